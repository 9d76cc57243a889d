"""``python -m bench.profile ROUTE [SECONDS] [MODE] [CONCURRENCY]``: where the service spends CPU.

Starts the fast emulator and the service (as ``make bench`` does), drives ROUTE (send,
send-stream, chat or chat-stream, streams against the fast emulator too) at CONCURRENCY (64) with
the asyncio client while py-spy (installed into ``bench/.work/tools-venv``) samples the service,
then prints the functions with the most samples, by own time and by inclusive time.
MODE ``default``: the default configuration (``service-default``); ``store``: the store-on
service of ``python -m bench store``; anything else (``off``): ``--no-store``.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import threading
from pathlib import Path

from bench import systems
from bench.measure import WORK, _body_file, _loadgen

PY_SPY = WORK / "tools-venv" / "bin" / "py-spy"


def ensure_py_spy() -> Path:
    if not PY_SPY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PY_SPY.parent.parent)], check=True)
        pip = PY_SPY.parent / "pip"
        subprocess.run([str(pip), "install", "-q", "py-spy"], check=True, timeout=600)
    return PY_SPY


def top(collapsed: Path, count: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        n = int(samples)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"total samples {total}", "-- own time"]
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in own.most_common(count)]
    lines += ["-- inclusive"]
    lines += [f"{100 * n / total:5.1f}% {f}" for f, n in inclusive.most_common(count)]
    return "\n".join(lines)


def main() -> None:
    route, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    spy = ensure_py_spy()
    emu, url = systems.start_emulator("emulator-profile", 0)
    svc = None
    try:
        up = systems.Upstreams(url, url)
        mode = sys.argv[3] if len(sys.argv) > 3 else ""
        concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 64
        if mode == "default":
            svc = systems.start_service_default(up)
        else:
            svc = systems.start_service(up, store=mode == "store")
        kind, stream = route.split("-")[0], route.endswith("stream")
        load = systems.load_for(svc.name, systems.base_url(svc), up, kind, stream)
        out = WORK / f"profile-{route}.txt"
        rec = [str(spy), "record", "-p", str(svc.pid), "-d", str(int(seconds)), "-r", "250"]
        rec += ["--nonblocking", "-f", "raw", "-o", str(out)]
        driver = threading.Thread(
            target=_loadgen, args=(load, _body_file(load.body), concurrency, seconds + 1)
        )
        driver.start()
        subprocess.run(rec, check=True, capture_output=True, timeout=seconds + 60)
        driver.join(seconds + 120)
        print(top(out))
    finally:
        if svc is not None:
            svc.stop()
        emu.stop()


if __name__ == "__main__":
    main()
