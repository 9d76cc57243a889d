"""Low-level HTTP plumbing shared by the emulator's routes.

Everything here is about *how* bytes reach the client: JSON and raw responses, streamed
responses registered with the recording middleware (so a client that leaves is noticed),
paced writes, and the deliberate TCP reset used by the "connection drops" behaviours.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from .recording import RecordedRequest

__all__ = [
    "DELAY_HEADER",
    "EXCHANGE",
    "FIXTURE_HEADER",
    "MAX_STALL_SECONDS",
    "PING_INTERVAL_SECONDS",
    "RESET_GRACE_SECONDS",
    "STALL_HEADER",
    "BadHeader",
    "Exchange",
    "current_record",
    "header_seconds",
    "json_response",
    "raw_response",
    "reset_connection",
    "start_stream",
    "write_chunks",
]

#: Per-request header naming a fixture (ChatGPT routes) or a fault (OpenAI routes).
FIXTURE_HEADER = "X-Emulator-Fixture"
#: Per-request header: pause between two body chunks, in milliseconds.
DELAY_HEADER = "X-Emulator-Delay-Ms"
#: Per-request header: pause before the status line and headers, in milliseconds.
STALL_HEADER = "X-Emulator-Stall-Ms"

#: Upper bound for every "forever" behaviour (stalls, endless pings), in seconds.
MAX_STALL_SECONDS = 600.0
PING_INTERVAL_SECONDS = 0.1
#: Pause before a deliberate reset so the bytes already written reach the client first.
RESET_GRACE_SECONDS = 0.05


@dataclass(eq=False)
class Exchange:
    """The request being served by the current task, and its response once prepared."""

    record: RecordedRequest
    response: web.StreamResponse | None = None


# Set by the recording middleware; the handler runs in the same task, hence the same context.
EXCHANGE: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar(
    "chatgpt_api_emulator_exchange", default=None
)


def current_record() -> RecordedRequest | None:
    """The :class:`RecordedRequest` of the request being served, if it is recorded."""
    exchange = EXCHANGE.get()
    return None if exchange is None else exchange.record


def json_response(status: int, obj: Any, *, headers: dict[str, str] | None = None) -> web.Response:
    """A compact JSON response (``application/json``)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


def raw_response(status: int, content_type: str, body: bytes) -> web.Response:
    """A response with exactly this content type and body."""
    resp = web.Response(status=status, body=body)
    resp.headers[hdrs.CONTENT_TYPE] = content_type
    return resp


class BadHeader(Exception):
    """A control header (``X-Emulator-*``) has an invalid value."""


def header_seconds(request: web.Request, name: str) -> float:
    """The header ``name`` (milliseconds) in seconds, capped; 0 when absent."""
    raw = request.headers.get(name)
    if raw is None or not raw.strip():
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise BadHeader(f"{name} must be a number of milliseconds, got {raw!r}") from None
    if not value >= 0:
        raise BadHeader(f"{name} must be >= 0, got {raw!r}")
    return min(value / 1000.0, MAX_STALL_SECONDS)


async def reset_connection(request: web.Request) -> None:
    """Reset the TCP connection (RST, no chunked terminator) once pending bytes are out."""
    transport = request.transport
    if transport is None:
        return
    for _ in range(400):  # at most ~2 s
        if transport.is_closing() or transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    await asyncio.sleep(RESET_GRACE_SECONDS)
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def write_chunks(resp: web.StreamResponse, chunks: Iterable[bytes], delay: float) -> None:
    """Write each chunk separately, pausing ``delay`` seconds between two of them."""
    for index, chunk in enumerate(chunks):
        if index and delay > 0:
            await asyncio.sleep(delay)
        await resp.write(chunk)


async def start_stream(
    request: web.Request,
    status: int,
    content_type: str | None,
    *,
    chunked: bool,
    length: int = 0,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Send the status line and headers of a response whose body is written afterwards."""
    resp = web.StreamResponse(status=status)
    if content_type is not None:
        resp.headers[hdrs.CONTENT_TYPE] = content_type
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    if chunked:
        resp.enable_chunked_encoding()
    else:
        resp.content_length = length
    exchange = EXCHANGE.get()
    if exchange is not None:
        exchange.response = resp
    await resp.prepare(request)
    return resp
