"""Getting a ChatGPT access token: from a login service, or from a session cookie.

* Email + password go to the configured login service exactly as the seed called
  ``chatgpt-auth``: ``POST <auth_url>`` with no body and the credentials in the headers
  ``email``, ``password`` and ``proxy``; the JSON reply (whatever its status) carries
  ``access_token``, or a ``message`` explaining the failure.
* A session token (the ``__Secure-next-auth.session-token`` cookie of a browser login) goes to
  the configured ``/api/auth/session`` endpoint, which answers ``accessToken`` and ``expires``.

Credentials never appear in messages: every message built from a reply is redacted with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from chatgpt_api.backends import _http
from chatgpt_api.errors import (
    RequestError,
    UpstreamProtocolError,
    UpstreamStatusError,
)
from chatgpt_api.header_values import has_control_character

SESSION_COOKIE = "__Secure-next-auth.session-token"
FAILED_MESSAGE = "failed to get [access_token]"


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    expires: str | None = None


async def login_with_password(
    session: aiohttp.ClientSession, auth_url: str, email: str, password: str, proxy: str
) -> AccessToken:
    url = _http.parse_upstream_url(auth_url)
    secrets = (email, password)
    for name, value in (("email", email), ("password", password), ("proxy", proxy)):
        if not _is_header_safe(value):
            raise RequestError(
                f"invalid [{name}]: only Latin-1 characters can be sent to the login service"
            )
    headers = {"email": email, "password": password, "proxy": proxy}
    reply = await _call(session, "POST", url, headers, secrets)
    token = reply.get("access_token")
    if token and isinstance(token, str):
        return AccessToken(token)
    message = reply.get("message")
    text = message if message and isinstance(message, str) else FAILED_MESSAGE
    raise UpstreamStatusError(text, 200, secrets=secrets)


async def token_from_session(
    session: aiohttp.ClientSession, session_url: str, session_token: str
) -> AccessToken:
    url = _http.parse_upstream_url(session_url)
    if not _is_header_safe(session_token) or any(c in session_token for c in ";\r\n"):
        raise RequestError("invalid [session_token]")
    headers = {"Cookie": f"{SESSION_COOKIE}={session_token}", "Accept": "application/json"}
    secrets = (session_token,)
    reply = await _call(session, "GET", url, headers, secrets, check_status=True)
    token = reply.get("accessToken")
    if token and isinstance(token, str):
        expires = reply.get("expires")
        return AccessToken(token, expires if isinstance(expires, str) else None)
    error = reply.get("error")
    reason = f": {error}" if error and isinstance(error, str) else ": not logged in"
    raise UpstreamStatusError(FAILED_MESSAGE + reason, 200, secrets=secrets)


async def _call(
    session: aiohttp.ClientSession,
    method: str,
    url: Any,
    headers: dict[str, str],
    secrets: tuple[str, ...],
    *,
    check_status: bool = False,
) -> dict[str, Any]:
    try:
        response = await session.request(method, url, headers=headers, allow_redirects=False)
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        raise _http.connect_error(URL(str(url)), exc) from exc
    async with response:
        if check_status:
            await _http.raise_for_status(response, "ChatGPT", secrets)
        body = await _http.read_limited(response)
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(
            "the login service sent a reply that is not valid JSON"
        ) from None
    return reply if isinstance(reply, dict) else {}


def _is_header_safe(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not has_control_character(value)
