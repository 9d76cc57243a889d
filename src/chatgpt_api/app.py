"""Wiring: ``create_app(settings)`` builds the ASGI app; its lifespan owns every resource.

Resources (the upstream HTTP session, the conversation store, the demo emulator) are created
when the app starts and closed when it stops, never at import time.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from chatgpt_api.accounts.pool import AccountPool, PoolSettings
from chatgpt_api.accounts.repository import AccountRepository
from chatgpt_api.accounts.secrets import load_secret_box
from chatgpt_api.api.access_log import AccessLogMiddleware
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
from chatgpt_api.api.graceful_shutdown import InFlight, InFlightMiddleware
from chatgpt_api.api.header_limits import HeaderLimitMiddleware
from chatgpt_api.api.home import home_page, not_found
from chatgpt_api.api.openai_compat import chat_completions, get_model, list_models
from chatgpt_api.api.openapi import openapi_route
from chatgpt_api.api.responses_api import responses_routes
from chatgpt_api.api.responses_socket import responses_socket_routes
from chatgpt_api.api.seed import get_access_token, send_message
from chatgpt_api.api.state import AppState
from chatgpt_api.backends.pool import BackendOptions, BackendPool
from chatgpt_api.config import Settings, missing_upstream_message
from chatgpt_api.http_session import create_session
from chatgpt_api.keys.gate import check_key_settings
from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.large_buffers import keep_large_buffers_unpooled
from chatgpt_api.limits import AccountLocks, close_limits, create_limits
from chatgpt_api.observability.health import healthz, readyz, standard_checks
from chatgpt_api.observability.metrics import Metrics, metrics_route
from chatgpt_api.observability.middleware import ObservabilityMiddleware
from chatgpt_api.observability.store import TimedStore
from chatgpt_api.playground import routes as playground_routes
from chatgpt_api.reference import routes as reference_routes
from chatgpt_api.registry import ModelRegistry, ModelRoute
from chatgpt_api.service import ChatService, HistoryBudget
from chatgpt_api.startup import NO_UPSTREAM_HINT, upstream_status
from chatgpt_api.store import ConversationStore, SQLStore, default_database_url, open_store
from chatgpt_api.store.responses import ResponseStore

log = logging.getLogger("chatgpt_api")


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


def create_app(settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The app; ``clock`` times the API-key and account-list caches (tests pass a fake one)."""
    metrics = Metrics()
    in_flight = InFlight()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            keep_large_buffers_unpooled()  # over-long answers must not stay resident
            effective, registry = settings, load_registry(settings)
            if settings.demo:
                effective, registry = await _start_demo(settings, stack)
            http = create_session(effective.connect_timeout)
            stack.push_async_callback(http.close)
            backends = BackendPool(http, backend_options(effective))
            stack.push_async_callback(backends.close)
            check_key_settings(effective)
            store: ConversationStore | None = None
            keys: KeyStore | None = None
            responses: ResponseStore | None = None
            if effective.store:
                sql_store = await open_store(
                    effective.database_url or default_database_url(effective.home)
                )
                stack.push_async_callback(sql_store.close)
                store = TimedStore(sql_store, metrics.store_seconds)
                keys = KeyStore(
                    sql_store.engine, cache_ttl=effective.api_key_cache_ttl, clock=clock
                )
                stack.push_async_callback(keys.close)
                responses = ResponseStore(sql_store)
            limiter, locks = create_limits(effective)
            stack.push_async_callback(close_limits, limiter, locks)
            pool: AccountPool | None = None
            if effective.store:
                pool = await _account_pool(effective, sql_store, http, locks, clock)
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

    middleware = [
        Middleware(HeaderLimitMiddleware, max_bytes=settings.max_header_size),
        Middleware(InFlightMiddleware, in_flight=in_flight),
        Middleware(ObservabilityMiddleware, metrics=metrics),
    ]
    if settings.access_log:
        structured = settings.log_format == "json"
        middleware.append(Middleware(AccessLogMiddleware, structured=structured))
    return Starlette(
        routes=[
            Route("/", home_page, methods=["GET"]),
            Route("/openapi.json", openapi_route, methods=["GET"]),
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
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )


async def _account_pool(
    settings: Settings,
    store: SQLStore,
    http: aiohttp.ClientSession,
    locks: AccountLocks,
    clock: Callable[[], float],
) -> AccountPool:
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


async def _start_demo(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> tuple[Settings, ModelRegistry]:
    """Run the upstream emulator in-process and point every kind of upstream at it."""
    from chatgpt_api.testing import Emulator, EmulatorOptions

    # The demo's upstream keeps its conversations beside the service's own (restart-safe).
    state_file = settings.home / "demo-upstream.json" if settings.store else None
    emulator = Emulator(EmulatorOptions(chunk_delay_ms=30, demo_state_file=state_file))
    url = await emulator.start("127.0.0.1", 0)
    stack.push_async_callback(emulator.stop)
    log.warning("demo mode: answers come from the built-in emulator at %s", url)
    effective = settings.model_copy(
        update={
            "reverse_proxy": f"{url}/backend-api/conversation",
            "auth_url": f"{url}/api",
            "session_url": f"{url}/api/auth/session",
        }
    )
    registry = ModelRegistry(
        [
            # Every demo model answers without a credential (a client's token is not needed).
            # The web model calls tools and answers in a schema by emulation (issue 12).
            ModelRoute(
                settings.model,
                "chatgpt-web",
                settings.model,
                None,
                "demo-token",
                emulate_tools=True,
            ),
            ModelRoute("gpt-4o-mini", "openai", "gpt-4o-mini", f"{url}/v1", "demo-key"),
            ModelRoute("gpt-4o", "openai-compatible", "gpt-4o", f"{url}/v1", "demo-key"),
            ModelRoute(
                "text-embedding-3-small",
                "openai",
                "text-embedding-3-small",
                f"{url}/v1",
                "demo-key",
                kind="embedding",
            ),
        ]
    )
    return effective, registry
