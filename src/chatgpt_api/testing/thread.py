"""Run an :class:`~.emulator.Emulator` in a background thread, for synchronous tests.

::

    with EmulatorThread() as emu:
        httpx.post(f"{emu.url}/backend-api/conversation", ...)
        assert emu.requests[0].json["action"] == "next"
"""

from __future__ import annotations

import asyncio
import threading

from .emulator import Emulator, EmulatorOptions
from .recording import RecordedRequest

__all__ = ["EmulatorThread"]

_START_TIMEOUT = 10.0


class EmulatorThread:
    """A context manager running an emulator on its own event loop in a daemon thread."""

    def __init__(
        self, options: EmulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.emulator = Emulator(options)
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._url is None:
            raise RuntimeError("the emulator thread is not running")
        return self._url

    @property
    def options(self) -> EmulatorOptions:
        return self.emulator.options

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests (taken under the log's lock)."""
        return self.emulator.requests

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.emulator.clear()

    def wait_until_closed(self, request_index: int, timeout: float = 2.0) -> bool:
        """Block until request number ``request_index`` has ended; False on timeout."""
        return self.emulator.log.wait_until_closed(request_index, timeout)

    def start(self) -> str:
        """Start the thread and the server; returns the base URL."""
        if self._thread is not None:
            raise RuntimeError("the emulator thread is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._run, args=(loop,), name="chatgpt-api-emulator", daemon=True
        )
        thread.start()
        self._loop, self._thread = loop, thread
        future = asyncio.run_coroutine_threadsafe(self.emulator.start(self._host, self._port), loop)
        try:
            self._url = future.result(_START_TIMEOUT)
        except BaseException:
            self._shutdown_loop()
            raise
        return self._url

    def stop(self) -> None:
        """Stop the server, the loop and the thread."""
        loop = self._loop
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), loop).result(_START_TIMEOUT)
        finally:
            self._shutdown_loop()
            self._url = None

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(_START_TIMEOUT)

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
