"""Wiring: ``create_app(settings)`` builds the ASGI app; its lifespan owns every resource.

Resources (the upstream HTTP session, the conversation store, an upstream started by the
entry such as ``--demo``'s emulator) are created when the app starts and closed when it stops,
never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, NamedTuple

import aiohttp
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp

from chatgpt_api.accounts.pool import AccountPool, PoolSettings
from chatgpt_api.accounts.secrets import load_secret_box
from chatgpt_api.api.anthropic_messages import count_message_tokens, create_message
from chatgpt_api.api.conversations import (
    delete_conversation,
    export_conversation,
    get_attachment,
    get_conversation,
    list_conversations,
    rename_conversation,
)
from chatgpt_api.api.conversations_openai import conversations_api_routes
from chatgpt_api.api.embeddings import embeddings
from chatgpt_api.api.error_handlers import surface_error
from chatgpt_api.api.graceful_shutdown import InFlight
from chatgpt_api.api.home import home_page, not_found, openapi_json
from chatgpt_api.api.lifecycle import RequestLifecycle
from chatgpt_api.api.openai_compat import chat_completions, get_model, list_models
from chatgpt_api.api.responses_api import responses_routes
from chatgpt_api.api.responses_socket import responses_socket_routes
from chatgpt_api.api.seed import get_access_token, send_message
from chatgpt_api.api.state import AppState
from chatgpt_api.backends.pool import BackendOptions, BackendPool
from chatgpt_api.config import Settings, missing_upstream_message
from chatgpt_api.http_session import create_session
from chatgpt_api.keys.gate import check_key_settings
from chatgpt_api.large_buffers import keep_large_buffers_unpooled
from chatgpt_api.limits import AccountLocks, close_limits, create_limits
from chatgpt_api.observability.health import healthz, readyz, standard_checks
from chatgpt_api.observability.metrics import Metrics, metrics_route
from chatgpt_api.observability.store import store_timer
from chatgpt_api.playground import routes as playground_routes
from chatgpt_api.reference import routes as reference_routes
from chatgpt_api.registry import ModelRegistry
from chatgpt_api.service import ChatService, HistoryBudget
from chatgpt_api.startup import NO_UPSTREAM_HINT, upstream_status
from chatgpt_api.store import default_database_url, open_store

if TYPE_CHECKING:  # bound to SQLAlchemy: imported by _open_store, when the store is on
    from chatgpt_api.keys.keystore import KeyStore
    from chatgpt_api.store import SQLStore
    from chatgpt_api.store.responses import ResponseStore

log = logging.getLogger("chatgpt_api")

#: Run first in the app's lifespan: starts an upstream (its shutdown pushed on the stack) and
#: returns the settings and model registry to serve with. ``--demo`` passes the emulator's
#: (:func:`chatgpt_api.server.build_app`), so the app never imports the testing package.
StartUpstream = Callable[
    [Settings, contextlib.AsyncExitStack], Awaitable[tuple[Settings, ModelRegistry]]
]


def backend_options(settings: Settings) -> BackendOptions:
    """What the backend pool reads from the settings."""
    return BackendOptions(
        reverse_proxy=settings.reverse_proxy,
        missing_url_message=missing_upstream_message(
            "REVERSE_PROXY", "--reverse-proxy", "reverse_proxy"
        ),
        max_event_size=settings.max_event_size,
        max_answer_size=settings.max_answer_size,
        max_upstream_body_size=settings.max_upstream_body_size,
        web_upload_cache_size=settings.web_upload_cache_size,
        web_upload_cache_ttl=settings.web_upload_cache_ttl,
        web_upload_max_file_size=settings.web_upload_max_file_size,
        allow_request_upstreams=settings.allow_request_upstreams,
        upstream_allowlist=settings.upstream_allowlist,
        connect_timeout=settings.connect_timeout,
    )


class Gateway(Starlette):
    """Starlette with the request-lifecycle middleware outermost, in place of Starlette's
    ``ServerErrorMiddleware`` (it answers the plain 500 itself), so an ``Exception`` handler
    (the surfaces' error shapes, :mod:`chatgpt_api.api.error_handlers`) runs inside it, in
    the request's context, like every other handler."""

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=self.exception_handlers)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


def create_app(
    settings: Settings,
    *,
    start_upstream: StartUpstream | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The app; ``clock`` times the API-key and account-list caches (tests pass a fake one)."""
    if settings.demo and start_upstream is None:
        raise ValueError("demo mode runs the emulator: build the app with server.build_app")
    metrics = Metrics()
    in_flight = InFlight()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            keep_large_buffers_unpooled()  # over-long answers must not stay resident
            effective, registry = settings, load_registry(settings)
            if start_upstream is not None:
                effective, registry = await start_upstream(settings, stack)
            http = create_session(effective.connect_timeout)
            stack.push_async_callback(http.close)
            backends = BackendPool(http, backend_options(effective))
            stack.push_async_callback(backends.close)
            check_key_settings(effective.require_api_key, store=effective.store)
            store: SQLStore | None = None
            keys: KeyStore | None = None
            responses: ResponseStore | None = None
            if effective.store:
                store, keys, responses = await _open_store(effective, stack, metrics, clock)
            limiter, locks = create_limits(
                effective.redis_url,
                failure_mode=effective.redis_failure_mode,
                prefix=effective.redis_key_prefix,
                lease_seconds=effective.redis_lease_seconds,
            )
            stack.push_async_callback(close_limits, limiter, locks)
            pool: AccountPool | None = None
            if store is not None:
                pool = await _account_pool(effective, store, http, locks, clock)
            app.state.metrics = metrics
            listed = (route.name for route in registry.listed())
            metrics.known_models = frozenset([effective.model, *listed])
            app.state.readiness = standard_checks(
                store.ping if store is not None else None, effective.redis_url, stack
            )
            if not upstream_status(effective, registry).configured:
                app.state.readiness.note("upstream", "not_configured", NO_UPSTREAM_HINT)
            budget = HistoryBudget(effective.history_max_messages, effective.history_max_chars)
            service = ChatService(
                registry,
                backends,
                store,
                budget,
                pool,
                web_upstream_configured=bool(effective.reverse_proxy),
            )
            app.state.chatgpt = AppState(
                settings=effective,
                service=service,
                http=http,
                store=store,
                keys=keys,
                responses=responses,
                pool=pool,
                limiter=limiter,
            )
            # Run first at shutdown: requests cut off by the grace deadline store their turns
            # before the store and the upstream session are closed (see api/graceful_shutdown.py).
            stack.push_async_callback(in_flight.wait_idle)
            yield

    lifecycle = Middleware(
        RequestLifecycle,
        metrics=metrics,
        in_flight=in_flight,
        max_header_bytes=settings.max_header_size,
        access_log=settings.log_format if settings.access_log else None,
    )
    return Gateway(
        routes=[
            Route("/", home_page, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_route, methods=["GET"]),
            Route("/send_message", send_message, methods=["POST"]),
            Route("/get_access_token", get_access_token, methods=["POST"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            *responses_routes(),
            *responses_socket_routes(),
            *conversations_api_routes(),
            Route("/v1/messages", create_message, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_message_tokens, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", get_model, methods=["GET"]),
            Route("/v1/conversations", list_conversations, methods=["GET"]),
            Route("/v1/conversations/{id}", get_conversation, methods=["GET"]),
            Route("/v1/conversations/{id}", rename_conversation, methods=["PATCH"]),
            Route("/v1/conversations/{id}", delete_conversation, methods=["DELETE"]),
            Route("/v1/conversations/{id}/export", export_conversation, methods=["GET"]),
            Route(
                "/v1/conversations/{id}/attachments/{sha256}",
                get_attachment,
                methods=["GET"],
            ),
            *playground_routes(),
            *reference_routes(),
        ],
        middleware=[lifecycle],
        exception_handlers={404: not_found, 405: not_found, Exception: surface_error},
        lifespan=lifespan,
    )


class _OnStore(NamedTuple):
    """What the app keeps when the store is on."""

    store: SQLStore
    keys: KeyStore
    responses: ResponseStore


async def _open_store(
    settings: Settings,
    stack: contextlib.AsyncExitStack,
    metrics: Metrics,
    clock: Callable[[], float],
) -> _OnStore:
    """The open store and what lives on it, each closed by ``stack``. The SQL-bound modules
    are imported here, so a service with the store off never loads SQLAlchemy."""
    from chatgpt_api.keys.keystore import KeyStore
    from chatgpt_api.store.responses import ResponseStore

    store = await open_store(
        settings.database_url or default_database_url(settings.home),
        observe=store_timer(metrics.store_seconds),
    )
    stack.push_async_callback(store.close)
    keys = KeyStore(store, cache_ttl=settings.api_key_cache_ttl, clock=clock)
    stack.push_async_callback(keys.close)
    return _OnStore(store, keys, ResponseStore(store))


async def _account_pool(
    settings: Settings,
    store: SQLStore,
    http: aiohttp.ClientSession,
    locks: AccountLocks,
    clock: Callable[[], float],
) -> AccountPool:
    from chatgpt_api.accounts.repository import AccountRepository

    return AccountPool(
        AccountRepository(store),
        load_secret_box(settings.secret_key, settings.home),
        locks,
        http,
        session_url=settings.session_url,
        settings=PoolSettings(
            settings.pool_max_wait, settings.pool_max_queue, settings.account_cooldown
        ),
        clock=clock,
    )


def load_registry(settings: Settings) -> ModelRegistry:
    if settings.models_file is not None:
        return ModelRegistry.from_file(settings.models_file)
    return ModelRegistry([])
