"""The project's upstream emulator for benchmarks: ``python -m bench.emulator PORT CHUNKS DELAY``.

It is ``chatgpt-api emulator`` plus housekeeping that a long benchmark needs: the emulator keeps
every request (for tests) and the demo backend every conversation, so both are cleared once a
second to keep its memory flat over hundreds of thousands of requests.
"""

from __future__ import annotations

import asyncio
import sys

import uvloop

from chatgpt_api.testing import Emulator, EmulatorOptions

MAX_HOURS = 2


async def _run(port: int, chunks: int, delay_ms: float) -> None:
    emulator = Emulator(EmulatorOptions(chunks=chunks, chunk_delay_ms=delay_ms))
    await emulator.start("127.0.0.1", port)
    print(f"Emulator listening on {emulator.url}", flush=True)
    try:
        for _ in range(MAX_HOURS * 3600):
            await asyncio.sleep(1)
            emulator.clear()
            emulator.state.demo.conversations.clear()
    finally:
        await emulator.stop()


def main() -> None:
    port, chunks, delay_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    uvloop.run(_run(port, chunks, delay_ms))


if __name__ == "__main__":
    main()
