"""Holding a store writer thread so that jobs queue up into one batch, and reading what it
committed, for the writer's tests (a table ``t`` of integers ``n``)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

from sqlalchemy.engine import Connection, Engine

from chatgpt_api.store.writer import WriterThread


class Gate:
    """A first job that holds the writer until ``release`` is set (so the next ones queue up)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, connection: Connection) -> None:
        self.entered.set()
        self.release.wait(30)

    async def held(self, writer: WriterThread) -> asyncio.Task[None]:
        """Submit the gate and wait until the writer is inside it."""
        task = asyncio.create_task(writer.submit(self))
        await asyncio.to_thread(self.entered.wait, 30)
        return task


async def queued_behind_a_gate(writer: WriterThread, jobs: list[Any]) -> list[Any]:
    """Run ``jobs`` as one batch (queued while the writer is held); each one's outcome."""
    gate = Gate()
    held = await gate.held(writer)
    tasks = [asyncio.create_task(writer.submit(job)) for job in jobs]
    await asyncio.sleep(0)  # every task has queued its job
    gate.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    await held
    return outcomes


def stored(engine: Engine) -> list[int]:
    """What is committed in ``t``, read on a connection of its own (the writer holds its own)."""
    connection = sqlite3.connect(str(engine.url.database))
    try:
        return [row[0] for row in connection.execute("SELECT n FROM t ORDER BY n")]
    finally:
        connection.close()
