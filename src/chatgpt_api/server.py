"""Running the app under uvicorn (uvloop + httptools) and announcing the address.

Once the socket is bound the seed's line is printed on stdout: ``Listening on
http://localhost:<port>`` (as a JSON log line when ``log_format`` is ``json``).

With ``workers > 1`` the parent binds the socket and uvicorn's supervisor starts that many
worker processes; each builds its app with :func:`app_from_environment` from the settings,
which the parent passes down as ``CHATGPT_API_*`` environment variables. A serving process
freezes its startup heap (:func:`freeze_startup_heap`) so that collections skip it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import sys

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from chatgpt_api.app import create_app
from chatgpt_api.config import Settings
from chatgpt_api.http_guard import (
    ConnectionLimits,
    GuardedConfig,
    GuardedHttpProtocol,
    connection_cap,
    parse_networks,
    raise_open_file_limit,
)
from chatgpt_api.logs import configure_logging, listening_line

#: The factory each worker process calls (``workers > 1``).
APP_FACTORY = "chatgpt_api.server:app_from_environment"


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
        print(listening_line(port), flush=True)
        freeze_startup_heap()


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, the app, its pools) out of the collector's reach.

    Full collections otherwise walk that whole heap again and again while serving (~50 ms each,
    ~10% of a request's CPU in the benchmark); what is garbage now is collected first.
    """
    gc.collect()
    gc.freeze()


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The socket-level limits of ``settings`` (see :mod:`chatgpt_api.http_guard`)."""
    return ConnectionLimits(
        header_timeout=settings.header_timeout,
        idle_timeout=settings.idle_timeout,
        max_header_bytes=settings.max_header_size,
        max_connections=connection_cap(settings.max_connections),
        max_connections_per_client=settings.max_connections_per_client,
        trusted_networks=parse_networks(settings.trusted_proxies),
    )


def uvicorn_config(settings: Settings, workers: int = 1) -> uvicorn.Config:
    # Our own access log (redacted, Apache format) replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True
    trusted_proxies = [str(network) for network in parse_networks(settings.trusted_proxies)]
    return GuardedConfig(
        build_app(settings) if workers <= 1 else APP_FACTORY,
        connection_limits=connection_limits(settings),
        # X-Forwarded-* only from the configured proxies (uvicorn's default trusts loopback).
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=GuardedHttpProtocol,  # uvicorn's httptools protocol + socket-level limits
        # /v1/responses' WebSocket mode; http_guard keeps counting the upgraded connection.
        ws="websockets-sansio",
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=settings.log_level,
        server_header=False,
        # uvicorn types this as int but waits with asyncio.wait_for: fractions work. Streams
        # still running at the deadline are cancelled and ended by the app
        # (api/graceful_shutdown.py).
        timeout_graceful_shutdown=settings.shutdown_grace,
    )


def app_from_environment() -> Starlette:
    """The app a worker process serves, from ``CHATGPT_API_*`` variables (``workers > 1``)."""
    logging.getLogger("uvicorn.access").disabled = True
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    app = build_app(settings)
    freeze_startup_heap()  # the imports (the app's own resources open in its lifespan)
    return app


def build_app(settings: Settings) -> Starlette:
    """The app for ``settings``; with ``demo`` its lifespan first starts the upstream emulator."""
    if not settings.demo:
        return create_app(settings)
    from chatgpt_api.testing.demo_service import start_demo_upstream  # only for --demo

    return create_app(settings, start_upstream=start_demo_upstream)


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as ``CHATGPT_API_*`` variables, so a worker process reads the same ones."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[f"CHATGPT_API_{name.upper()}"] = text
    return env


def serve(settings: Settings, workers: int = 1) -> int:
    # Each connection is a descriptor: allow as many as the hard limit permits (workers
    # inherit it), so max_connections is not silently capped by a low soft limit.
    raise_open_file_limit()
    if workers > 1:
        return _serve_workers(settings, workers)
    server = AnnouncingServer(uvicorn_config(settings))
    # uvicorn re-raises the Ctrl-C it handled: that is a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 1


def _serve_workers(settings: Settings, workers: int) -> int:
    os.environ.update(settings_environment(settings))
    config = uvicorn_config(settings, workers)
    sock = config.bind_socket()
    print(listening_line(sock.getsockname()[1]), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(Settings()))
