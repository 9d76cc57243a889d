"""``python -m bench store``: the conversation store's CPU cost, store on vs store off, A/B.

Both services (``--no-store`` and ``--store``, SQLite) run side by side, pinned to the service
core; only one is loaded at a time, and their runs alternate (off, on, off, on, ...) so that
the shared machine's drift lands on both alike. For each route and concurrency it reports the
median CPU-ms per request of each and their ratio (the issue's target: on ≤ 1.2× off). Results
go to ``bench/.work/<date>-store.json``.
"""

from __future__ import annotations

import datetime
import json
import statistics
import sys
import time
from typing import Any

from bench import report, systems
from bench.measure import WORK, Run, have_wrk, run_once, wait_idle, warm_up

ROUTES = ("send", "chat")
CONCURRENCIES = (1, 16, 64)


def _median(runs: list[Run], metric: str) -> float:
    return float(statistics.median(getattr(r, metric) for r in runs))


def run_store_ab(runs: int, seconds: float = 1.0) -> int:
    """Alternate store-off and store-on runs; print and save the medians and ratios."""
    use_wrk = have_wrk()
    points: dict[str, Any] = {}
    lines: list[str] = []
    with systems_started() as (off, on, up):
        for route in ROUTES:
            loads = {
                name: systems.load_for(name, systems.base_url(proc), up, route, False)
                for name, proc in (("off", off), ("on", on))
            }
            for load in loads.values():
                warm_up(load, 1.0)
            for conc in CONCURRENCIES:
                results: dict[str, list[Run]] = {"off": [], "on": []}
                for _ in range(runs):
                    for name, proc in (("off", off), ("on", on)):
                        wait_idle(proc)
                        results[name].append(run_once(proc, loads[name], conc, seconds, use_wrk))
                cpu_off = _median(results["off"], "cpu_ms_per_req")
                cpu_on = _median(results["on"], "cpu_ms_per_req")
                ratio = cpu_on / cpu_off if cpu_off else float("nan")
                for name, system in (("off", "service-1w"), ("on", "service-1w-store")):
                    points[report.key(system, route, conc)] = report.summarise(results[name])
                line = (
                    f"{route:5} c={conc:<3} CPU-ms/req off={cpu_off:.3f} on={cpu_on:.3f} "
                    f"ratio={ratio:.2f}× rps off={_median(results['off'], 'rps'):.0f} "
                    f"on={_median(results['on'], 'rps'):.0f} "
                    f"errors={sum(r.errors for r in results['on'] + results['off'])}"
                )
                lines.append(line)
                print(f"[bench store] {line}", file=sys.stderr, flush=True)
    day = datetime.date.today().isoformat()
    path = WORK / f"{day}-store.json"
    data = {
        "mode": "store",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": systems.machine(),
        "setup": {"runs_per_point": runs, "seconds_per_run": seconds, "wrk": use_wrk},
        "points": points,
        "summary": lines,
    }
    path.write_text(json.dumps(data, indent=1, default=str))
    print("\n".join(lines))
    return 0


class systems_started:
    """The emulator, the store-off service and the store-on service, stopped on exit."""

    def __enter__(self) -> tuple[Any, Any, systems.Upstreams]:
        self._procs: list[Any] = []
        fast = systems.start_emulator("emulator-fast", 0)[0]
        self._procs.append(fast)
        try:
            up = systems.Upstreams(systems.base_url(fast), systems.base_url(fast))
            on = systems.start_service(up, store=True)  # first: it empties the shared home
            self._procs.append(on)
            off = systems.start_service(up)
            self._procs.append(off)
        except BaseException:
            self.__exit__()
            raise
        time.sleep(0.5)
        return off, on, up

    def __exit__(self, *_exc: object) -> None:
        for proc in reversed(self._procs):
            proc.stop()
