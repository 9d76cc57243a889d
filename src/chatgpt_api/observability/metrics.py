"""The Prometheus instruments of one app, and ``GET /metrics``.

Each app owns its registry (two apps in one process never share counts): requests, errors,
request duration and time to first token by route, backend and model; active streams by backend;
store operation time; pool accounts by state (docs/operations.md lists them). Cardinality is
bounded: ``route`` is the route template (``unmatched`` otherwise), ``model`` a registry name or
``other``, ``error`` the class answered. With several workers a scrape sees one worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from chatgpt_api.observability.context import RequestContext

if TYPE_CHECKING:
    from chatgpt_api.accounts.records import Account

PREFIX = "chatgpt_api"
NO_BACKEND = "none"
OTHER_MODEL = "other"
UNMATCHED_ROUTE = "unmatched"
#: The status recorded for a request whose client went away before an answer was sent.
CLIENT_CLOSED = 499
ACCOUNT_STATES = ("healthy", "unhealthy", "cooling")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class _PoolCollector(Collector):
    """Account states from the last snapshot taken at scrape time (never per request)."""

    def __init__(self) -> None:
        self.snapshot: list[Account] | None = None

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            f"{PREFIX}_pool_accounts",
            "Upstream accounts of the pool by backend and state (cooling: healthy but resting "
            "after a 429).",
            labels=["backend", "state"],
        )
        if self.snapshot is not None:
            for (backend, state), count in sorted(account_states(self.snapshot).items()):
                family.add_metric([backend, state], count)
        yield family


def account_states(accounts: Iterable[Account]) -> dict[tuple[str, str], int]:
    """Accounts counted by (backend, state); every state of a present backend is listed."""
    now = datetime.now(UTC)
    counts: dict[tuple[str, str], int] = {}
    for account in accounts:
        for state in ACCOUNT_STATES:
            counts.setdefault((account.backend, state), 0)
        if account.status != "healthy":
            state = "unhealthy"
        elif account.cooldown_until is not None and account.cooldown_until > now:
            state = "cooling"
        else:
            state = "healthy"
        counts[(account.backend, state)] += 1
    return counts


class Metrics:
    """The instruments of one app, with label children cached for the hot path."""

    def __init__(self) -> None:
        # No ``*_created`` series (they double the output); this is process-wide.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        route_labels = ["route", "backend", "model"]
        self.requests = Counter(
            f"{PREFIX}_requests",
            "HTTP requests answered, by route template, backend, model and status.",
            ["route", "method", "backend", "model", "status"],
            registry=registry,
        )
        self.errors = Counter(
            f"{PREFIX}_errors",
            "Requests answered with an error (status >= 400, or a stream ended by an error "
            "event), by the error's class.",
            ["route", "backend", "model", "status", "error"],
            registry=registry,
        )
        self.duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from the request's arrival to the end of its response (a stream's last byte).",
            route_labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            f"{PREFIX}_time_to_first_token_seconds",
            "Time from the request's arrival to the first answer text being sent (a stream's "
            "first text event; the whole answer when not streamed).",
            route_labels,
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.active_streams = Gauge(
            f"{PREFIX}_active_streams",
            "Answer streams being sent now.",
            ["backend"],
            registry=registry,
        )
        self.store_seconds = Histogram(
            f"{PREFIX}_store_operation_seconds",
            "Conversation store call latency, by operation.",
            ["operation"],
            buckets=STORE_BUCKETS,
            registry=registry,
        )
        self._pool = _PoolCollector()
        registry.register(self._pool)
        ProcessCollector(registry=registry)
        GCCollector(registry=registry)
        #: Model names shown as themselves; any other is ``other``.
        self.known_models: frozenset[str] = frozenset()
        self._request_children: dict[tuple[str, ...], tuple[Counter, Histogram, Histogram]] = {}

    def model_label(self, model: str | None, listed: bool) -> str:
        if model is None:
            return NO_BACKEND
        return model if listed or model in self.known_models else OTHER_MODEL

    def record_request(
        self,
        labels: tuple[str, str, str, str, str],
        seconds: float,
        first_token_seconds: float | None,
    ) -> None:
        """Count one answered request (route, method, backend, model, status); observe times."""
        children = self._request_children.get(labels)
        if children is None:
            route, method, backend, model, status = labels
            children = (
                self.requests.labels(route, method, backend, model, status),
                self.duration.labels(route, backend, model),
                self.ttft.labels(route, backend, model),
            )
            self._request_children[labels] = children
        children[0].inc()
        children[1].observe(seconds)
        if first_token_seconds is not None:
            children[2].observe(first_token_seconds)

    def record(self, scope: Scope, context: RequestContext, status: int | None) -> None:
        """Count and time one ended HTTP request (``status`` None: the client went away)."""
        ended = time.perf_counter()
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        backend = context.backend or NO_BACKEND
        model = self.model_label(context.model, context.listed)
        code = status or CLIENT_CLOSED
        status_label = str(code)
        first = context.first_token_at
        self.record_request(
            (route, scope["method"], backend, model, status_label),
            ended - context.started,
            None if first is None else first - context.started,
        )
        if context.streaming:
            self.stream_ended(backend)
        if code >= 400 or context.error is not None:
            error = context.error or ("ClientDisconnected" if code == CLIENT_CLOSED else "http")
            self.errors.labels(route, backend, model, status_label, error).inc()

    def stream_started(self, backend: str) -> None:
        self.active_streams.labels(backend).inc()

    def stream_ended(self, backend: str) -> None:
        self.active_streams.labels(backend).dec()

    def set_pool_snapshot(self, accounts: list[Account] | None) -> None:
        self._pool.snapshot = accounts

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def metrics_route(request: Request) -> Response:
    """``GET /metrics``: the Prometheus text format (account states read now)."""
    metrics: Metrics = request.app.state.metrics
    state = getattr(request.app.state, "chatgpt", None)
    pool = getattr(state, "pool", None)
    accounts = None
    if pool is not None:
        try:
            accounts = await pool.accounts()
        except Exception:  # the store is down: the pool gauge is left out, the rest is served
            accounts = None
    metrics.set_pool_snapshot(accounts)
    return Response(metrics.render(), headers={"content-type": CONTENT_TYPE_LATEST})
