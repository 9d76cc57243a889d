"""One measurement: drive one URL at one concurrency, read the service's CPU and memory.

Non-streamed points use wrk (a C load generator, with :file:`post.lua`); streamed points use
:mod:`bench.loadgen` (time to first byte). Both run pinned to the driver core. CPU seconds of
the service's process tree are read just before and just after the load (wrk stops at its
deadline; the asyncio client lets in-flight streams finish), so every CPU tick spent is divided
by exactly the requests it served.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import DRIVER_CPU, Proc

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"


@dataclass(frozen=True)
class Load:
    """What to send: URL, body, headers, and whether the answer is a stream."""

    url: str
    body: bytes
    headers: tuple[str, ...]
    stream: bool


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_req: float
    peak_rss_mb: float
    completed: int
    errors: int
    ttfb_p50_ms: float | None = None
    ttfb_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    reads_per_response: float | None = None
    client_cpu_ms_per_req: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _RssSampler(threading.Thread):
    """Samples the service tree's RSS every 50 ms until stopped (bounded to 10 minutes)."""

    def __init__(self, proc: Proc) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak, self._stop_flag = proc, proc.rss(), threading.Event()

    def run(self) -> None:
        for _ in range(12_000):
            if self._stop_flag.wait(0.05):
                return
            self.peak = max(self.peak, self.proc.rss())

    def stop(self) -> int:
        self._stop_flag.set()
        self.join(5)
        return self.peak


def _body_file(body: bytes) -> Path:
    path = WORK / f"body-{abs(hash(body))}.bin"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return path


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_once(proc: Proc, load: Load, concurrency: int, seconds: float, use_wrk: bool) -> Run:
    """One run against ``proc`` (the process whose CPU and memory are measured)."""
    body_file = _body_file(load.body)
    sampler = _RssSampler(proc)
    proc.tree()
    cpu0 = proc.cpu()
    sampler.start()
    if use_wrk and not load.stream:
        run = _wrk(load, body_file, concurrency, seconds)
    else:
        run = _loadgen(load, body_file, concurrency, seconds)
    cpu = proc.cpu() - cpu0
    run.peak_rss_mb = sampler.stop() / 2**20
    run.cpu_ms_per_req = cpu * 1000 / run.completed if run.completed else float("nan")
    return run


def _wrk(load: Load, body_file: Path, concurrency: int, seconds: float) -> Run:
    argv = ["taskset", "-c", DRIVER_CPU, "wrk", "-t1", f"-c{concurrency}"]
    argv += [f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(BENCH / "post.lua")]
    for header in load.headers:
        argv += ["-H", header]
    argv.append(load.url)
    env = {"BENCH_BODY_FILE": str(body_file), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(line[8:])
    completed = int(data["requests"])
    return Run(
        rps=completed / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        cpu_ms_per_req=0.0,
        peak_rss_mb=0.0,
        completed=completed,
        errors=int(data["errors"]),
    )


def _loadgen(load: Load, body_file: Path, concurrency: int, seconds: float) -> Run:
    argv = ["taskset", "-c", DRIVER_CPU, sys.executable, "-m", "bench.loadgen", load.url]
    argv += [str(body_file), "--concurrency", str(concurrency), "--seconds", str(seconds)]
    for header in load.headers:
        argv += ["--header", header]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds * 5 + 90, cwd=BENCH.parent
    )
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr[-800:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    completed = int(data["completed"])
    latency, ttfb = data["latency_ms"], data["ttfb_ms"]
    return Run(
        rps=data["in_window"] / data["seconds"],
        p50_ms=_pct(latency, 0.5),
        p99_ms=_pct(latency, 0.99),
        cpu_ms_per_req=0.0,
        peak_rss_mb=0.0,
        completed=completed,
        errors=int(data["errors"]),
        ttfb_p50_ms=_pct(ttfb, 0.5) if load.stream else None,
        ttfb_p99_ms=_pct(ttfb, 0.99) if load.stream else None,
        ttft_p50_ms=_pct(data["ttft_ms"], 0.5) if load.stream else None,
        ttft_p99_ms=_pct(data["ttft_ms"], 0.99) if load.stream else None,
        reads_per_response=statistics.median(data["reads"]) if data["reads"] else None,
        client_cpu_ms_per_req=data["client_cpu_s"] * 1000 / completed if completed else None,
    )


def warm_up(load: Load, seconds: float = 0.5) -> None:
    """A short untimed run, so that pools, caches and imports are warm."""
    _loadgen(load, _body_file(load.body), 8, seconds)


def wait_idle(proc: Proc, seconds: float = 2.0) -> None:
    """Let the service finish in-flight work (bounded): CPU stops growing for 100 ms."""
    deadline, last = time.monotonic() + seconds, proc.cpu()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = proc.cpu()
        if now == last:
            return
        last = now
