"""The upstream HTTP client: one shared aiohttp session, and upstream failures → our errors.

aiohttp's client was chosen by measurement (several times cheaper per request than httpx's
AsyncClient here). Redirects are never followed (a redirect would re-send credentials to another
host); a 3xx is reported like any other non-2xx status. Every function that maps a failure keeps
secrets out of the message.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable, Mapping

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.errors import (
    UpstreamConnectError,
    UpstreamStatusError,
    UpstreamURLError,
)
from chatgpt_api.redact import redact_text

ERROR_BODY_LIMIT = 64 * 1024


def parse_upstream_url(url: str) -> URL:
    """``url`` as a yarl URL, or ``Failed to parse URL from <url>`` (secrets masked)."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise UpstreamURLError(redact_text(url))
    return parsed


def request_secrets(credential: str | None, url: URL) -> tuple[str, ...]:
    """The exact secrets one upstream request carries: its credential and the URL's password.

    Every error built from upstream text is redacted against these (see
    :class:`~chatgpt_api.errors.UpstreamStatusError`), so an upstream that quotes them back
    never gets them to a client, a row or a log line.
    """
    candidates = (credential, url.password, url.raw_password)
    return tuple(dict.fromkeys(s for s in candidates if s))


async def open_stream(
    session: aiohttp.ClientSession, url: URL, headers: Mapping[str, str], body: bytes
) -> aiohttp.ClientResponse:
    """POST ``body`` and return the response once its headers arrived."""
    try:
        return await session.post(url, data=body, headers=headers, allow_redirects=False)
    except aiohttp.InvalidURL as exc:
        raise UpstreamURLError(redact_text(str(url))) from exc
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise connect_error(url, exc) from exc


def connect_error(url: URL, exc: BaseException) -> UpstreamConnectError:
    """``fetch failed: cannot reach <host>:<port> (<why>)``: the upstream named, no secret."""
    host = url.host or "?"
    if ":" in host:
        host = f"[{host}]"
    return UpstreamConnectError(f"{host}:{url.port}", _connect_failure_reason(exc))


def _connect_failure_reason(exc: BaseException) -> str:
    cause = getattr(exc, "os_error", None) or exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(cause, ssl.SSLError):
        return "TLS handshake failed"
    if isinstance(cause, socket.gaierror):
        return "host name not resolved"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no connection within the connect timeout"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed before the response"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "the answer is not HTTP"
    return "connection failed"


async def read_limited(response: aiohttp.ClientResponse, limit: int = ERROR_BODY_LIMIT) -> bytes:
    """At most ``limit`` bytes of the body; a body cut off early yields what arrived."""
    parts: list[bytes] = []
    size = 0
    try:
        while size < limit:
            chunk = await response.content.read(limit - size)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
    except (aiohttp.ClientError, OSError):
        pass
    return b"".join(parts)


async def raise_for_status(
    response: aiohttp.ClientResponse, name: str, known_secrets: Iterable[str | None]
) -> None:
    """``<name> error <status>: <body>`` for any status outside 2xx."""
    if 200 <= response.status < 300:
        return
    body = (await read_limited(response)).decode("utf-8", "replace")
    raise UpstreamStatusError(
        f"{name} error {response.status}: {body}", response.status, secrets=known_secrets
    )


async def openai_status_error(
    response: aiohttp.ClientResponse, secrets: tuple[str, ...]
) -> UpstreamStatusError:
    """An OpenAI-style upstream's non-2xx answer as an error: its ``error.message``,
    ``error.code`` and ``error.param`` when the body is an OpenAI error document (else the raw
    body), its status and its ``Retry-After`` (seconds) — ``secrets`` masked."""
    raw = (await read_limited(response)).decode("utf-8", "replace")
    message = f"upstream error {response.status}: {raw}"
    code: str | None = None
    param: str | None = None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
        code = _text_or_none(error.get("code"))
        param = _text_or_none(error.get("param"))
    elif isinstance(error, str):
        message = error
    failure = UpstreamStatusError(
        message,
        response.status,
        secrets=secrets,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        upstream_code=code,
    )
    failure.param = param
    return failure


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header given in seconds, or None (absent, a date, or invalid)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


#: Exceptions that mean "the body was cut off before its end" while reading a response.
BODY_ERRORS = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError)


#: Bounds for reading the rest of a body after its answer is complete (see :func:`finish`).
DRAIN_SECONDS = 1.0
DRAIN_BYTES = 64 * 1024
_draining: set[asyncio.Task[None]] = set()


def finish(response: aiohttp.ClientResponse, *, answered: bool = False) -> None:
    """Give a connection back to the pool if its body was read to the end, else close it.

    An answer ends at ``[DONE]``, often before the chunked body's terminator has arrived: then
    (``answered``) the rest is read in the background, bounded in time and size, so the
    connection can still be reused — without delaying the client. A stream abandoned midway
    (error, timeout, client gone) is closed at once, which cancels the upstream's work.
    """
    if response.content.is_eof():
        response.release()
    elif answered:
        task = asyncio.get_running_loop().create_task(_drain(response))
        _draining.add(task)
        task.add_done_callback(_draining.discard)
    else:
        response.close()


async def _drain(response: aiohttp.ClientResponse) -> None:
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            read = 0
            while read <= DRAIN_BYTES and (chunk := await response.content.readany()):
                read += len(chunk)
    except (TimeoutError, *BODY_ERRORS):
        pass
    finish(response)
