"""Metrics, request ids, structured logs and health checks.

* :mod:`.context` — the per-request context (request id, route, first-token time) and the
  cheap hooks the routes and the service call;
* :mod:`.middleware` — the ASGI middleware that gives every request its id and records it;
* :mod:`.metrics` — the Prometheus instruments (one registry per app) and ``GET /metrics``;
* :mod:`.store` — conversation-store latency;
* :mod:`.logformat` — JSON log lines and the request id on every record;
* :mod:`.health` — ``GET /healthz`` and ``GET /readyz``.
"""
