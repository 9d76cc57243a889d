"""Interleaved comparisons: ``python -m bench store`` and ``python -m bench default``.

The systems compared run side by side, pinned to the service core; only one is loaded at a
time, and their runs alternate (A, B, C, A, B, C, ...) so that the shared machine's drift lands
on all alike. ``store``: the service with the store off and on (target: on ≤ 1.2× off).
``default``: the default configuration, the store-off service and the bare reference proxy
(target: default ≤ 1.5× reference). Medians of CPU-ms per request and their ratios go to stdout
and ``bench/.work/<date>-<mode>.json``.
"""

from __future__ import annotations

import datetime
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench import report, systems
from bench.measure import WORK, Run, have_wrk, run_once, wait_idle, warm_up
from bench.procs import Proc

#: One compared system: (short name, name in the results, how to start it).
Starter = tuple[str, str, Callable[[systems.Upstreams], Proc]]

STORE: tuple[Starter, ...] = (
    ("on", "service-1w-store", lambda up: systems.start_service(up, store=True)),
    ("off", "service-1w", lambda up: systems.start_service(up)),
)
DEFAULT: tuple[Starter, ...] = (
    ("default", "service-default", systems.start_service_default),
    ("off", "service-1w", lambda up: systems.start_service(up)),
    ("ref", "ref-starlette_aiohttp", lambda up: systems.start_reference(up, "starlette_aiohttp")),
)
#: The ratios each mode reports: (numerator, denominator, target).
RATIOS = {
    "store": (("on", "off", 1.2),),
    "default": (("default", "ref", 1.5), ("off", "ref", 1.5), ("default", "off", None)),
}


def _median(runs: list[Run], metric: str) -> float:
    return float(statistics.median(getattr(r, metric) for r in runs))


def run_store_ab(runs: int, seconds: float = 1.0) -> int:
    """Store off and on, send and chat at c=1, 16, 64."""
    return run_ab("store", STORE, (("send", False), ("chat", False)), (1, 16, 64), runs, seconds)


def run_default_ab(runs: int, seconds: float = 1.0) -> int:
    """The default configuration, store off and the reference, every route at c=16 and 64."""
    routes = (("send", False), ("chat", False), ("send", True), ("chat", True))
    return run_ab("default", DEFAULT, routes, (16, 64), runs, seconds)


def run_ab(
    mode: str,
    starters: tuple[Starter, ...],
    routes: tuple[tuple[str, bool], ...],
    concurrencies: tuple[int, ...],
    runs: int,
    seconds: float,
) -> int:
    """Alternate the runs of ``starters``; print and save the medians and ratios."""
    use_wrk = have_wrk()
    points: dict[str, Any] = {}
    lines: list[str] = []
    with _started(starters) as (procs, up):
        for route, stream in routes:
            shown = f"{route}-stream" if stream else route
            loads = {
                short: systems.load_for(procs[short][0], systems.base_url(proc), up, route, stream)
                for short, proc in ((s, procs[s][1]) for s in procs)
            }
            for load in loads.values():
                warm_up(load, 1.0)
            for conc in concurrencies:
                results: dict[str, list[Run]] = {short: [] for short in procs}
                for _ in range(runs):
                    for short, (_name, proc) in procs.items():
                        wait_idle(proc)
                        wrk = use_wrk and not stream
                        results[short].append(run_once(proc, loads[short], conc, seconds, wrk))
                cpu = {short: _median(results[short], "cpu_ms_per_req") for short in procs}
                for short, (name, _proc) in procs.items():
                    points[report.key(name, shown, conc)] = report.summarise(results[short])
                parts = [f"{short}={value:.3f}" for short, value in cpu.items()]
                for top, bottom, target in RATIOS[mode]:
                    ratio = cpu[top] / cpu[bottom] if cpu[bottom] else float("nan")
                    goal = "" if target is None else f" (≤ {target})"
                    parts.append(f"{top}/{bottom}={ratio:.2f}×{goal}")
                errors = sum(r.errors for rs in results.values() for r in rs)
                line = f"{shown:11} c={conc:<3} CPU-ms/req " + " ".join(parts)
                line += f" errors={errors}"
                lines.append(line)
                print(f"[bench {mode}] {line}", file=sys.stderr, flush=True)
    day = datetime.date.today().isoformat()
    data = {
        "mode": mode,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": systems.machine(),
        "setup": {"runs_per_point": runs, "seconds_per_run": seconds, "wrk": use_wrk},
        "points": points,
        "summary": lines,
    }
    (WORK / f"{day}-{mode}.json").write_text(json.dumps(data, indent=1, default=str))
    print("\n".join(lines))
    return 0


@contextmanager
def _started(
    starters: tuple[Starter, ...],
) -> Iterator[tuple[dict[str, tuple[str, Proc]], systems.Upstreams]]:
    """The fast emulator and every system (in order: the first empties the shared home)."""
    with ExitStack() as stack:
        fast = systems.start_emulator("emulator-fast", 0)[0]
        stack.callback(fast.stop)
        up = systems.Upstreams(systems.base_url(fast), systems.base_url(fast))
        procs: dict[str, tuple[str, Proc]] = {}
        for short, name, start in starters:
            proc = start(up)
            stack.callback(proc.stop)
            procs[short] = (name, proc)
        time.sleep(0.5)
        yield procs, up
