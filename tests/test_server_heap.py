"""A serving process freezes its startup heap once it listens (full collections then skip the
modules and the app), after collecting what is garbage at that point."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from chatgpt_api.config import Settings
from chatgpt_api.server import AnnouncingServer, freeze_startup_heap, uvicorn_config

pytestmark = pytest.mark.anyio


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture()
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()  # the rest of the suite runs with the usual collector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_freezing_collects_the_garbage_first(unfrozen: None) -> None:
    garbage = _Cycle()
    gone = weakref.ref(garbage)
    del garbage
    freeze_startup_heap()
    assert gone() is None  # collected, not frozen forever
    assert gc.get_freeze_count() > 0


async def test_the_server_freezes_its_heap_once_it_listens(
    unfrozen: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def listening(self: uvicorn.Server, sockets: object = None) -> None:
        self.servers = []

    monkeypatch.setattr(uvicorn.Server, "startup", listening)
    server = AnnouncingServer(uvicorn_config(Settings(home=tmp_path, port=8123)))
    assert gc.get_freeze_count() == 0
    await server.startup()
    assert "8123" in capsys.readouterr().out
    assert gc.get_freeze_count() > 0
