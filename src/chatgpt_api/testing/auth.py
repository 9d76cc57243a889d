"""Fake authentication services: the NextAuth session endpoint and chatgpt-auth.

* ``GET /api/auth/session`` plays ``https://chat.openai.com/api/auth/session`` (reference 3.1):
  the session cookie ``__Secure-next-auth.session-token`` is exchanged for an access token.
* ``POST /api`` and ``POST /auth`` play zhuweiyou/chatgpt-auth (reference 1.7 and 1.10): the
  credentials come as request headers ``email``, ``password``, ``proxy`` and the reply is always
  HTTP 200 with ``{"access_token": ...}`` or ``{"message": ...}``.
* ``/api-broken`` replies with non-JSON text, ``/api-nomessage`` with ``{}``.

The access tokens are fake JWTs: real structure, meaningless signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import time
from typing import Any

from aiohttp import web

__all__ = [
    "SESSION_COOKIE",
    "USER_ID",
    "auth_broken",
    "auth_nomessage",
    "auth_service",
    "make_fake_jwt",
    "session",
]

SESSION_COOKIE = "__Secure-next-auth.session-token"
USER_ID = "user-emulator"
_DAY = 24 * 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_fake_jwt(exp: int) -> str:
    """A JWT-shaped access token expiring at ``exp`` (Unix seconds); the signature is random."""
    header = {"alg": "RS256", "typ": "JWT"}
    payload = {
        "exp": exp,
        "iat": int(time.time()),
        "sub": USER_ID,
        "https://api.openai.com/auth": {"user_id": USER_ID},
    }
    parts = [
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(payload, separators=(",", ":")).encode()),
        _b64url(secrets.token_bytes(256)),
    ]
    return ".".join(parts)


def _json(obj: Any) -> web.Response:
    """A compact JSON response (as the real services send)."""
    return web.Response(
        text=json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
        content_type="application/json",
    )


def _iso_z(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


async def session(request: web.Request) -> web.Response:
    """``GET /api/auth/session``."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return _json({})
    if cookie == "expired":
        return _json({"error": "RefreshAccessTokenError"})
    now = dt.datetime.now(dt.UTC)
    body = {
        "user": {
            "id": USER_ID,
            "name": "Emulator User",
            "email": "user@example.com",
            "image": None,
            "picture": None,
            "mfa": False,
            "groups": [],
        },
        "expires": _iso_z(now + dt.timedelta(days=30)),
        "accessToken": make_fake_jwt(int(time.time()) + 14 * _DAY),
    }
    return _json(body)


async def auth_service(request: web.Request) -> web.Response:
    """``POST /api`` and ``POST /auth``: always HTTP 200."""
    email = request.headers.get("email", "")
    password = request.headers.get("password", "")
    if not email or not password:
        return _json({"message": "email and password are required"})
    if password == "wrong" or "@" not in email:
        return _json({"message": "wrong email or password"})
    return _json({"access_token": make_fake_jwt(int(time.time()) + 14 * _DAY)})


async def auth_broken(request: web.Request) -> web.Response:
    """``/api-broken``: 200 with a body that is not JSON."""
    return web.Response(text="File not found.", content_type="text/plain")


async def auth_nomessage(request: web.Request) -> web.Response:
    """``/api-nomessage``: 200 ``{}`` (neither token nor message)."""
    return _json({})
