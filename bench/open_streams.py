"""The open-streams memory check: one service process holding N streams at once.

A dedicated emulator sends each stream's 20 chunks 3 s apart (a minute per stream), the client
(:mod:`bench.loadgen` ``--hold``) opens N ``/send_message`` streams, waits until every one has
its first byte, holds them 3 s and closes them; the service's RSS is sampled meanwhile.
Everything is bounded: the client gives up after 150 s, the whole check after 240 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

from bench import systems
from bench.measure import BENCH, WORK
from bench.procs import DRIVER_CPU


def open_streams_check(up: systems.Upstreams, count: int, *, store: bool = False) -> dict[str, Any]:
    emu, url = systems.start_emulator("emulator-hold", 3000)
    svc = None
    try:
        held = systems.Upstreams(up.fast, url)
        svc = systems.start_service(held, store=store)
        load = systems.load_for("service", systems.base_url(svc), held, "send", True)
        body = WORK / "hold-body.bin"
        body.write_bytes(load.body)
        rss_before = svc.rss()
        argv = ["taskset", "-c", DRIVER_CPU, sys.executable, "-m", "bench.loadgen", load.url]
        argv += [str(body), "--hold", str(count), "--hold-seconds", "3"]
        for header in load.headers:
            argv += ["--header", header]
        client = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=BENCH.parent)
        peak, ready_at = 0, None
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            for _ in range(3600):
                peak = max(peak, svc.rss() if svc else 0)
                if stop.wait(0.05):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        assert client.stdout is not None
        lines = []
        for line in client.stdout:
            lines.append(line)
            if '"ready"' in line:
                ready_at = time.monotonic() - started
        client.wait(240)
        stop.set()
        sampler.join(5)
        result = json.loads(lines[-1]) if lines else {}
        return {
            "streams": count,
            "open": result.get("open"),
            "still_open_after_hold": result.get("still_open_after_hold"),
            "errors": result.get("errors"),
            "seconds_to_open": ready_at,
            "rss_mb": peak / 2**20,
            "rss_idle_mb": rss_before / 2**20,
        }
    finally:
        if svc is not None:
            svc.stop()
        emu.stop()
