"""``GET /healthz`` (liveness) and ``GET /readyz`` (readiness).

``/healthz`` answers ``200 {"status": "ok"}`` whenever the process serves, touching nothing
else. ``/readyz`` runs every registered check concurrently within :data:`CHECK_TIMEOUT`: 200
``ready`` or 503 ``unavailable`` with ``checks`` (``ok`` / ``error`` / ``disabled``), short
redacted ``errors`` and ``notes``. A check is an async callable that raises when its dependency
fails (None: disabled); the app registers ``store`` and ``redis``. A note
(:meth:`ReadinessChecks.note`, e.g. no upstream configured) does not make the instance unready.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.errors import ServiceError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.redact import redact_text

ReadinessCheck = Callable[[], Awaitable[object]]

#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT = 2.0
MAX_REASON = 200


class ReadinessChecks:
    """The named checks ``/readyz`` runs (stored as ``app.state.readiness``)."""

    def __init__(self) -> None:
        self._checks: dict[str, ReadinessCheck | None] = {}
        self.notes: dict[str, tuple[str, str]] = {}

    def add(self, name: str, check: ReadinessCheck | None) -> None:
        """Register (or replace) a check; ``None`` reports the dependency as disabled."""
        self._checks[name] = check

    def note(self, name: str, status: str, message: str) -> None:
        """Report ``name`` as ``status`` with ``message`` under ``notes``, staying ready."""
        self.notes[name] = (status, message)

    def clear(self) -> None:
        self._checks.clear()
        self.notes.clear()

    async def run(self) -> tuple[dict[str, str], dict[str, str]]:
        """``(status by check, reason by failed check)``."""
        names = list(self._checks)
        outcomes = await asyncio.gather(*(_run(self._checks[name]) for name in names))
        statuses: dict[str, str] = {}
        errors: dict[str, str] = {}
        for name, (status, reason) in zip(names, outcomes, strict=True):
            statuses[name] = status
            if reason is not None:
                errors[name] = reason
        return statuses, errors


async def _run(check: ReadinessCheck | None) -> tuple[str, str | None]:
    if check is None:
        return "disabled", None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await check()
    except TimeoutError:
        return "error", f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:
        return "error", _reason(exc)
    return "ok", None


def _reason(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, ServiceError) else str(exc)
    text = redact_text(" ".join(text.split()) or type(exc).__name__)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    readiness: ReadinessChecks = request.app.state.readiness
    statuses, errors = await readiness.run()
    notes = {name: message for name, (_, message) in readiness.notes.items()}
    statuses.update({name: status for name, (status, _) in readiness.notes.items()})
    extra: dict[str, object] = {"notes": notes} if notes else {}
    if errors:
        body = {"status": "unavailable", "checks": statuses, "errors": errors, **extra}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "checks": statuses, **extra})


def standard_checks(
    store: ReadinessCheck | None, redis_url: str | None, stack: contextlib.AsyncExitStack
) -> ReadinessChecks:
    """``store`` (its ``ping``, or disabled) and ``redis`` (a ``PING`` when a URL is set)."""
    checks = ReadinessChecks()
    checks.add("store", store)
    redis: ReadinessCheck | None = None
    if redis_url:
        from chatgpt_api.observability.redis_check import RedisPing

        ping = RedisPing.from_url(redis_url)
        stack.push_async_callback(ping.close)
        redis = ping
    checks.add("redis", redis)
    return checks
