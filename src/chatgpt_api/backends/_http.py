"""The upstream HTTP client: one shared aiohttp session, and upstream failures → our errors.

aiohttp's client was chosen by measurement (several times cheaper per request than httpx's
AsyncClient here). Redirects are never followed (a redirect would re-send credentials to another
host); a 3xx is reported like any other non-2xx status. Every function that maps a failure keeps
secrets out of the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from chatgpt_api.errors import (
    UpstreamConnectError,
    UpstreamStatusError,
    UpstreamURLError,
)
from chatgpt_api.redact import redact_text

ERROR_BODY_LIMIT = 64 * 1024


def create_session(
    connect_timeout: float, *, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """A client session: pooled keep-alive connections, no total timeout.

    With ``resolver`` (the per-request upstreams' pinning resolver) aiohttp's DNS cache is off,
    so every new connection goes through the resolver and uses only what it returned.
    """
    connector = aiohttp.TCPConnector(
        limit=0,
        ttl_dns_cache=60,
        use_dns_cache=resolver is None,
        resolver=resolver,
        keepalive_timeout=30,
        enable_cleanup_closed=True,
    )
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)


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
        raise UpstreamConnectError() from exc


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
