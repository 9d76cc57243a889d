"""Running the app under uvicorn (uvloop + httptools) and announcing the address.

Once the socket is bound the seed's line is printed on stdout: ``Listening on
http://localhost:<port>``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys

import uvicorn

from chatgpt_api.app import create_app
from chatgpt_api.config import Settings


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints the seed's "Listening on" line once it listens."""

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)  # type: ignore[arg-type]
        if self.should_exit:
            return
        port = self.config.port
        for server in self.servers:
            for sock in server.sockets:
                port = sock.getsockname()[1]
                break
        print(f"Listening on http://localhost:{port}", flush=True)


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    # Our own access log (redacted, Apache format) replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=settings.log_level,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def serve(settings: Settings) -> int:
    server = AnnouncingServer(uvicorn_config(settings))
    # uvicorn re-raises the Ctrl-C it handled: that is a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(Settings()))
