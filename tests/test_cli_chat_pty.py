"""``chatgpt-api chat`` in a real pseudo-terminal: streaming, Ctrl-C mid-answer, ``/exit``.

The upstream is a slow emulator (20 pieces, 100 ms apart: about two seconds an answer), so the
answer is visibly streamed and Ctrl-C lands in the middle of one. Every read has a deadline.
Run against a service over HTTP and in-process (the two ways Ctrl-C reaches the answer).
"""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.servers import ServiceThread

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

PROMPT = b">>> "


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorOptions(chunks=20, chunk_delay_ms=100)) as emu:
        yield emu


class Terminal:
    """A child process on a pseudo-terminal, and everything it wrote."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session leader whose controlling terminal is the pty
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = bytearray()
        self.cursor = 0
        self.status: int | None = None

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += data
        return bool(data)

    def expect(self, needle: bytes, timeout: float = 15.0) -> bytes:
        """Read until ``needle`` appears after the cursor; returns what came before it."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(needle, self.cursor)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(min(remaining, 0.2)):
                tail = bytes(self.output[self.cursor :])[-800:]
                raise AssertionError(
                    f"no {needle!r} within {timeout}s; the terminal shows {tail!r}"
                )
        before = bytes(self.output[self.cursor : found])
        self.cursor = found + len(needle)
        return before

    def wait(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                return os.waitstatus_to_exitcode(status)
        raise AssertionError("the chat did not exit")

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.mark.parametrize("mode", ["url", "in-process"])
def test_chat_in_a_terminal(mode: str, slow_emulator: EmulatorThread, tmp_path: Path) -> None:
    upstream = f"{slow_emulator.url}/backend-api/conversation"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "dumb",
        "CHATGPT_API_HOME": str(tmp_path / "data"),
        "CHATGPT_API_KEY": "tok",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    argv = [sys.executable, "-m", "chatgpt_api.cli", "chat"]
    service = ServiceThread(reverse_proxy=upstream, home=tmp_path / "svc")
    with service:
        if mode == "url":
            argv += ["--url", service.url]
        else:
            env["CHATGPT_API_REVERSE_PROXY"] = upstream
        term = Terminal(argv, env)
        try:
            term.expect(PROMPT, timeout=30)

            # A whole answer, arriving piece by piece.
            term.type(b"hello\r")
            term.expect(b"hello\r\n")  # the terminal's echo of the line
            term.expect(b"You said")
            started = time.monotonic()
            answer = term.expect(b"This is turn 1 of this conversation.", timeout=20)
            assert b'"hello"' in answer
            assert time.monotonic() - started > 1.0  # streamed over seconds, not all at once
            term.expect(PROMPT)

            # Ctrl-C in the middle of the second answer stops it; the session goes on.
            term.type(b"stop me\r")
            term.expect(b"You said")
            term.type(b"\x03")
            stopped = term.expect(b"[answer stopped]", timeout=10)
            assert b"of this conversation" not in stopped
            term.expect(PROMPT)

            # The session still works, and still continues the first conversation.
            term.type(b"still there?\r")
            term.expect(b"This is turn 2 of this conversation.", timeout=20)
            term.expect(PROMPT)

            term.type(b"/exit\r")
            assert term.wait() == 0
            assert b"Traceback" not in term.output
        finally:
            term.close()
