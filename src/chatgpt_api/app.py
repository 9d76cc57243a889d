"""Wiring: ``create_app(settings)`` builds the ASGI app; its lifespan owns every resource.

Resources (the upstream HTTP session, the backends, the demo emulator) are created when the app
starts and closed when it stops, never at import time. Tests and embedders can inject a
``backend`` or an ``http`` session of their own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from chatgpt_api.api.access_log import AccessLogMiddleware
from chatgpt_api.api.home import home_page, not_found
from chatgpt_api.api.seed import get_access_token, send_message
from chatgpt_api.api.state import AppState
from chatgpt_api.backends import _http
from chatgpt_api.backends.base import Backend
from chatgpt_api.backends.chatgpt_web import ChatGPTWebBackend
from chatgpt_api.config import Settings
from chatgpt_api.service import ChatService

log = logging.getLogger("chatgpt_api")


def create_app(settings: Settings, *, backend: Backend | None = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            effective = settings
            if settings.demo:
                effective = await _start_demo(settings, stack)
            http = _http.create_session(effective.connect_timeout)
            stack.push_async_callback(http.close)
            app.state.chatgpt = AppState(
                settings=effective,
                service=ChatService(backend or _default_backend(effective, http)),
                http=http,
            )
            yield

    middleware = [Middleware(AccessLogMiddleware)] if settings.access_log else []
    return Starlette(
        routes=[
            Route("/", home_page, methods=["GET"]),
            Route("/send_message", send_message, methods=["POST"]),
            Route("/get_access_token", get_access_token, methods=["POST"]),
        ],
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )


def _default_backend(settings: Settings, http: aiohttp.ClientSession) -> Backend:
    return ChatGPTWebBackend(
        http, default_url=settings.reverse_proxy, max_event_size=settings.max_event_size
    )


async def _start_demo(settings: Settings, stack: contextlib.AsyncExitStack) -> Settings:
    """Run the upstream emulator in-process and point every upstream setting at it."""
    from chatgpt_api.testing import Emulator, EmulatorOptions

    emulator = Emulator(EmulatorOptions(chunk_delay_ms=30))
    url = await emulator.start("127.0.0.1", 0)
    stack.push_async_callback(emulator.stop)
    log.warning("demo mode: answers come from the built-in emulator at %s", url)
    return settings.model_copy(
        update={
            "reverse_proxy": f"{url}/backend-api/conversation",
            "auth_url": f"{url}/api",
            "session_url": f"{url}/api/auth/session",
        }
    )
