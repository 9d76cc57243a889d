"""Running the service as a real HTTP server (uvicorn on 127.0.0.1) in a background thread."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from chatgpt_api.app import create_app
from chatgpt_api.config import Settings
from chatgpt_api.server import uvicorn_config


class ServiceThread:
    """``with ServiceThread(reverse_proxy=...) as svc: httpx.post(svc.url + "/send_message")``.

    ``clock`` (for example a :class:`tests.clock.FakeClock`) times the app's caches."""

    def __init__(self, *, clock: Callable[[], float] | None = None, **settings: Any) -> None:
        settings.setdefault("host", "127.0.0.1")
        settings.setdefault("port", 0)
        # The suite's upstreams are local servers given per request: open loopback for them.
        # The network-policy tests (tests/test_ssrf*.py) pass their own allowlist.
        settings.setdefault("upstream_allowlist", "127.0.0.1,::1")
        if "home" not in settings and "database_url" not in settings:
            settings["home"] = Path(tempfile.mkdtemp(prefix="chatgpt-api-test-"))
        self.settings = Settings(**settings)
        config = uvicorn_config(self.settings)
        if clock is not None:
            config.app = create_app(self.settings, clock=clock)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> ServiceThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self._thread.join(15)


def registry_service(home: Path, models_toml: str, emulator_url: str) -> ServiceThread:
    """A service routing by ``models_toml`` (written into ``home``, where its store lives too),
    the ChatGPT web backend on the emulator at ``emulator_url``: ``with registry_service(...)``."""
    models = home / "models.toml"
    models.write_text(models_toml)
    return ServiceThread(
        reverse_proxy=f"{emulator_url}/backend-api/conversation",
        models_file=models,
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
    )
