"""``python -m bench full`` (``make bench``, < 10 min) or ``python -m bench quick`` (< 1 min, CI).

``python -m bench open-streams`` runs the open-streams memory check alone; ``python -m bench
store`` the conversation store's CPU cost (store on vs off) and ``python -m bench default`` the
default configuration against the reference proxy, both as interleaved runs (:mod:`bench.store_ab`);
``python -m bench rss-256`` the peak RSS of one service process, store on and off, holding 256
open streams, then streaming ``send-stream`` at c=256.

Full: every system × route × concurrency in :data:`FULL`, each point run three times, plus the
10,000-open-streams memory check; results to ``bench/results/<date>.json`` and a Markdown
summary beside it. Quick: a few points, and exit status 1 only on a gross *ratio* regression.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import report, systems
from bench.measure import WORK, Run, have_wrk, run_once, wait_idle, warm_up
from bench.open_streams import open_streams_check
from bench.procs import Proc
from bench.store_ab import run_default_ab, run_store_ab

RESULTS = Path(__file__).resolve().parent / "results"
ROUTES = {"send": ("send", False), "send-stream": ("send", True)}
ROUTES |= {"chat": ("chat", False), "chat-stream": ("chat", True)}
ALL_ROUTES = tuple(ROUTES)
ALL_C = (1, 16, 64, 256)
CPU_C = 64
#: (system, routes, concurrencies), most important first; later ones are skipped past the budget.
FULL: list[tuple[str, tuple[str, ...], tuple[int, ...]]] = [
    ("direct", ALL_ROUTES, ALL_C),
    ("service-1w", ALL_ROUTES, ALL_C),
    ("ref-starlette_aiohttp", ALL_ROUTES, ALL_C),
    ("service-1w-store", ALL_ROUTES, (CPU_C,)),
    ("service-default", ALL_ROUTES, (CPU_C,)),
    ("litellm", ("chat", "chat-stream"), ALL_C),
    ("ref-starlette_httpx", ("send", "chat", "chat-stream"), (CPU_C,)),
    ("ref-aioweb_aiohttp", ("send", "chat", "chat-stream"), (CPU_C,)),
    ("service-2w", ALL_ROUTES, (256,)),
]
BUDGET_S = 540.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_fd_limit() -> None:
    """Enough descriptors for 10,000 streams (service, emulator and client each hold them)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (65536, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            return
        except (ValueError, OSError):
            continue


@contextmanager
def started(factory: Callable[[], Proc]) -> Iterator[Proc]:
    proc = factory()
    try:
        yield proc
    finally:
        proc.stop()


def ensure_wrk() -> bool:
    """wrk, installed from Debian's packages if missing (as root); False if not to be had."""
    if have_wrk():
        return True
    log("wrk not found: apt-get install -y wrk")
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], timeout=300, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return have_wrk()


class Bench:
    def __init__(self, up: systems.Upstreams, emulators: dict[str, Proc], runs: int) -> None:
        self.up, self.emulators, self.runs = up, emulators, runs
        self.points: dict[str, Any] = {}
        self.skipped: list[str] = []
        self.notes: dict[str, str] = {}

    def measure(
        self,
        system: str,
        proc: Proc | None,
        routes: tuple[str, ...],
        concurrencies: tuple[int, ...],
        *,
        ns_seconds: float,
        stream_seconds: float,
        use_wrk: bool,
        deadline: float,
    ) -> None:
        for route in routes:
            kind, stream = ROUTES[route]
            base = systems.base_url(proc) if proc is not None else ""
            load = systems.load_for(system, base, self.up, kind, stream)
            target = proc or self.emulators["slow" if stream else "fast"]
            if time.monotonic() > deadline:
                self.skipped.append(f"{system} {route}")
                continue
            warm_up(load, 0.5)
            for conc in concurrencies:
                if time.monotonic() > deadline:
                    self.skipped.append(f"{system} {route} c={conc}")
                    continue
                runs: list[Run] = []
                for _ in range(self.runs):
                    wait_idle(target)
                    seconds = stream_seconds if stream else ns_seconds
                    runs.append(run_once(target, load, conc, seconds, use_wrk))
                point = report.summarise(runs)
                self.points[report.key(system, route, conc)] = point
                log(
                    f"{system:24} {route:12} c={conc:<3} "
                    f"rps={report.spread(point, 'rps', 0)} "
                    f"cpu={report.spread(point, 'cpu_ms_per_req', 3)} ms "
                    f"p50={report.spread(point, 'p50_ms')} "
                    f"ttfb={report.spread(point, 'ttfb_p50_ms')} err={point['errors']}"
                )


def start_system(name: str, up: systems.Upstreams) -> Proc:
    if name == "service-1w":
        return systems.start_service(up)
    if name == "service-2w":
        return systems.start_service(up, workers=2)
    if name == "service-1w-store":
        return systems.start_service(up, store=True)
    if name == "service-default":
        return systems.start_service_default(up)
    if name == "litellm":
        return systems.start_litellm(up)
    return systems.start_reference(up, name.removeprefix("ref-"))


def run_full(runs: int) -> int:
    t0 = time.monotonic()
    deadline = t0 + BUDGET_S
    raise_fd_limit()
    use_wrk = ensure_wrk()
    lite_problem = systems.litellm_status()
    delay = systems.STREAM_DELAY_MS
    with (
        started(lambda: systems.start_emulator("emulator-fast", 0)[0]) as fast,
        started(lambda: systems.start_emulator("emulator-slow", delay)[0]) as slow,
    ):
        up = systems.Upstreams(systems.base_url(fast), systems.base_url(slow))
        bench = Bench(up, {"fast": fast, "slow": slow}, runs)
        if not use_wrk:
            bench.notes["wrk"] = "wrk not available: the asyncio client drove every point"
        if lite_problem:
            bench.notes["litellm"] = lite_problem
        extra: dict[str, Any] = {}
        for system, routes, concs in FULL:
            if system == "litellm" and lite_problem:
                log(f"skipping LiteLLM: {lite_problem}")
                continue
            lite = system == "litellm"
            if system == "direct":
                bench.measure(
                    system,
                    None,
                    routes,
                    concs,
                    ns_seconds=1,
                    stream_seconds=1.5,
                    use_wrk=use_wrk,
                    deadline=deadline,
                )
                continue
            try:
                proc = start_system(system, up)
            except RuntimeError as exc:
                bench.notes[system] = f"did not start: {exc}"
                log(f"{system} did not start: {exc}")
                continue
            try:
                bench.measure(
                    system,
                    proc,
                    routes,
                    concs,
                    ns_seconds=2 if lite else 1,
                    stream_seconds=2 if lite else 1.5,
                    use_wrk=use_wrk and not lite,
                    deadline=deadline,
                )
            finally:
                proc.stop()
            if system == "service-1w" and time.monotonic() < deadline:
                extra["open_streams"] = open_streams_check(up, 10_000)
                log(f"open streams: {extra['open_streams']}")
        extra["calibration"] = calibrate(bench, use_wrk)
    return write_results(bench, extra, time.monotonic() - t0, "full")


def calibrate(bench: Bench, use_wrk: bool) -> dict[str, Any]:
    """The asyncio client vs wrk on the same direct point: is the client a bottleneck?"""
    if not use_wrk:
        return {}
    load = systems.load_for("direct", "", bench.up, "chat", False)
    fast = bench.emulators["fast"]
    via_wrk = run_once(fast, load, 16, 1, True)
    via_py = run_once(fast, load, 16, 1, False)
    return {
        "wrk_rps": via_wrk.rps,
        "asyncio_rps": via_py.rps,
        "asyncio_client_cpu_ms_per_req": via_py.client_cpu_ms_per_req,
        "emulator_cpu_ms_per_req_wrk": via_wrk.cpu_ms_per_req,
    }


def write_results(bench: Bench, extra: dict[str, Any], elapsed: float, mode: str) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = datetime.date.today().isoformat()
    stem = day if mode == "full" else f"{day}-quick"
    checks = report.targets(bench.points, extra, CPU_C)
    data = {
        "mode": mode,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "machine": systems.machine(),
        "setup": {
            "chunks": systems.CHUNKS,
            "stream_delay_ms": systems.STREAM_DELAY_MS,
            "runs_per_point": bench.runs,
            "cpu_concurrency": CPU_C,
        },
        "notes": bench.notes,
        "skipped": bench.skipped,
        "points": bench.points,
        "extra": extra,
        "targets": checks,
    }
    path = WORK / f"{stem}.json" if mode == "quick" else RESULTS / f"{stem}.json"
    path.write_text(json.dumps(data, indent=1, default=str))
    summary = report.table(bench.points)
    if mode == "full":
        summary += "\n" + report.targets_table(checks)
    path.with_suffix(".md").write_text(summary)
    print(summary)
    log(f"{mode} done in {elapsed:.0f} s; results in {path}")
    return 0


def run_quick() -> int:
    """A few points; fail only when a ratio is grossly off (never on an absolute time)."""
    t0 = time.monotonic()
    raise_fd_limit()
    with started(lambda: systems.start_emulator("emulator-fast", 0)[0]) as fast:
        up = systems.Upstreams(systems.base_url(fast), systems.base_url(fast))
        bench = Bench(up, {"fast": fast, "slow": fast}, 3)
        common: dict[str, Any] = {"ns_seconds": 1, "stream_seconds": 1, "use_wrk": False}
        common["deadline"] = t0 + 90
        bench.measure("direct", None, ("send",), (1,), **common)
        with started(lambda: systems.start_service(up)) as svc:
            bench.measure("service-1w", svc, ("send",), (1, 16), **common)
            bench.measure("service-1w", svc, ("chat", "chat-stream"), (16,), **common)
        with started(lambda: systems.start_service_default(up)) as svc:
            bench.measure("service-default", svc, ("send", "chat", "chat-stream"), (16,), **common)
        with started(lambda: systems.start_reference(up, "starlette_aiohttp")) as ref:
            bench.measure("ref-starlette_aiohttp", ref, ("send",), (1, 16), **common)
            bench.measure("ref-starlette_aiohttp", ref, ("chat", "chat-stream"), (16,), **common)
    write_results(bench, {}, time.monotonic() - t0, "quick")
    return quick_verdict(bench.points)


def quick_verdict(points: dict[str, Any]) -> int:
    k = report.key
    checks = {
        "service CPU/request vs reference, send c=16": report._ratio(
            report.med(points, k("service-1w", "send", 16), "cpu_ms_per_req"),
            report.med(points, k("ref-starlette_aiohttp", "send", 16), "cpu_ms_per_req"),
        ),
        "service CPU/request vs reference, chat c=16": report._ratio(
            report.med(points, k("service-1w", "chat", 16), "cpu_ms_per_req"),
            report.med(points, k("ref-starlette_aiohttp", "chat", 16), "cpu_ms_per_req"),
        ),
        "service CPU/request vs reference, chat-stream c=16": report._ratio(
            report.med(points, k("service-1w", "chat-stream", 16), "cpu_ms_per_req"),
            report.med(points, k("ref-starlette_aiohttp", "chat-stream", 16), "cpu_ms_per_req"),
        ),
        "service latency p50 vs reference proxy, send c=1": report._ratio(
            report.med(points, k("service-1w", "send", 1), "p50_ms"),
            report.med(points, k("ref-starlette_aiohttp", "send", 1), "p50_ms"),
        ),
    }
    direct = report._ratio(
        report.med(points, k("service-1w", "send", 1), "p50_ms"),
        report.med(points, k("direct", "send", 1), "p50_ms"),
    )
    if direct is not None:
        print(f"bench-quick: service latency p50 vs direct, send c=1: {direct:.2f}× (information)")
    for route in ("send", "chat", "chat-stream"):
        default = report.med(points, k("service-default", route, 16), "cpu_ms_per_req")
        for name, other, goal in (
            ("reference", "ref-starlette_aiohttp", 1.5),
            ("store off (service-1w)", "service-1w", 1.2),
        ):
            ratio = report._ratio(
                default, report.med(points, k(other, route, 16), "cpu_ms_per_req")
            )
            shown = "not measured" if ratio is None else f"{ratio:.2f}×"
            print(
                f"bench-quick: default configuration CPU/request vs {name}, {route} c=16: "
                f"{shown} (goal {goal}×; information)"
            )
    failed = False
    for name, ratio in checks.items():
        ok = ratio is not None and ratio <= 3.0
        failed |= not ok
        shown = "not measured" if ratio is None else f"{ratio:.2f}×"
        print(f"bench-quick: {name}: {shown} (limit 3×) {'ok' if ok else 'FAIL'}")
    broken = [key for key, p in points.items() if p["errors"] > 0.05 * max(1, p["completed"])]
    for key in broken:
        print(f"bench-quick: {key}: too many errors ({points[key]['errors']}) FAIL")
    return 1 if failed or broken else 0


def run_open_streams(count: int) -> int:
    """The open-streams check alone; its result is merged into today's full results, if any."""
    raise_fd_limit()
    with started(lambda: systems.start_emulator("emulator-fast", 0)[0]) as fast:
        up = systems.Upstreams(systems.base_url(fast), systems.base_url(fast))
        result = open_streams_check(up, count)
    print(json.dumps(result))
    path = RESULTS / f"{datetime.date.today().isoformat()}.json"
    if path.exists():
        data = json.loads(path.read_text())
        data["extra"]["open_streams"] = result
        data["targets"] = report.targets(data["points"], data["extra"], CPU_C)
        path.write_text(json.dumps(data, indent=1, default=str))
        summary = report.table(data["points"]) + "\n" + report.targets_table(data["targets"])
        path.with_suffix(".md").write_text(summary)
    return 0 if (result.get("open") or 0) >= 0.99 * count else 1


def run_rss_256() -> int:
    """Peak RSS of one service process, store on (the default) and store off: 256 held streams,
    then send-stream at c=256. Fails when the store-on figure is over 80 MB."""
    raise_fd_limit()
    peaks: dict[bool, float] = {}
    with (
        started(lambda: systems.start_emulator("emulator-fast", 0)[0]) as fast,
        started(
            lambda: systems.start_emulator("emulator-slow", systems.STREAM_DELAY_MS)[0]
        ) as slow,
    ):
        up = systems.Upstreams(systems.base_url(fast), systems.base_url(slow))
        for store in (True, False):
            name = "store" if store else "no_store"
            held = open_streams_check(up, 256, store=store)
            print(json.dumps({f"open_streams_256_{name}": held}), flush=True)
            with started(functools.partial(systems.start_service, up, store=store)) as svc:
                idle = svc.rss() / 2**20
                load = systems.load_for("service", systems.base_url(svc), up, "send", True)
                warm_up(load, 0.5)
                run = run_once(svc, load, 256, 5, False)
            stream = {"idle_mb": idle, "peak_rss_mb": run.peak_rss_mb, "completed": run.completed}
            stream["errors"] = run.errors
            print(json.dumps({f"send_stream_c256_{name}": stream}), flush=True)
            if (held.get("open") or 0) < 256 * 0.99:
                print(f"bench rss-256: only {held.get('open')} of 256 streams opened ({name})")
                return 1
            peaks[store] = max(held["rss_mb"], run.peak_rss_mb)
    for store, peak in peaks.items():
        label = "store on (default)" if store else "store off"
        print(f"bench rss-256: {label}: peak RSS {peak:.1f} MB (limit 80)")
    ok = peaks[True] <= 80
    print(f"bench rss-256: {'ok' if ok else 'FAIL'} (the limit applies to the default, store on)")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "mode", choices=["full", "quick", "open-streams", "store", "default", "rss-256"]
    )
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.mode == "open-streams":
        sys.exit(run_open_streams(args.streams))
    if args.mode == "rss-256":
        sys.exit(run_rss_256())
    if args.mode == "store":
        sys.exit(run_store_ab(args.runs))
    if args.mode == "default":
        sys.exit(run_default_ab(args.runs))
    sys.exit(run_full(args.runs) if args.mode == "full" else run_quick())


if __name__ == "__main__":
    main()
