"""/get_access_token: email + password through the login service, or a session token."""

from __future__ import annotations

import httpx
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread


def test_email_and_password(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = client.post(
        "/get_access_token", data={"email": "a@example.com", "password": "pw", "proxy": "p1"}
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["access_token"]
    assert body["access_token"].startswith("eyJ")
    (received,) = emulator.requests
    assert received.method == "POST"
    assert received.path == "/api"
    assert received.body == b""
    assert received.headers["email"] == "a@example.com"
    assert received.headers["password"] == "pw"
    assert received.headers["proxy"] == "p1"


def test_json_body_and_default_proxy(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = client.post("/get_access_token", json={"email": "a@example.com", "password": "pw"})
    assert response.status_code == 200
    assert emulator.requests[0].headers["proxy"] == ""


@pytest.mark.parametrize(
    "fields", [{}, {"email": "a@example.com"}, {"password": "pw"}, {"email": "", "password": "x"}]
)
def test_missing_credentials(client: httpx.Client, fields: dict[str, str]) -> None:
    response = client.post("/get_access_token", data=fields)
    assert response.status_code == 500
    assert response.json() == {"message": "invalid [email] or [password]"}


def test_login_service_message_is_passed_on_without_the_password(client: httpx.Client) -> None:
    # The emulator refuses the password "wrong" and says "wrong email or password": the
    # message is passed on, with the password (which it happens to contain) masked.
    response = client.post(
        "/get_access_token", data={"email": "a@example.com", "password": "wrong"}
    )
    assert response.status_code == 500
    assert response.json() == {"message": "[REDACTED] email or password"}


def test_non_latin1_password_is_refused_clearly(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    emulator.clear()
    response = client.post("/get_access_token", data={"email": "a@example.com", "password": "密码"})
    assert response.status_code == 500
    assert response.json() == {
        "message": "invalid [password]: only Latin-1 characters can be sent to the login service"
    }
    assert emulator.requests == []


def test_session_token(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = client.post("/get_access_token", data={"session_token": "sess-abc"})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["access_token", "expires"]
    assert body["access_token"].startswith("eyJ")
    assert body["expires"].endswith("Z")
    (received,) = emulator.requests
    assert received.method == "GET"
    assert received.path == "/api/auth/session"
    assert received.headers["cookie"] == "__Secure-next-auth.session-token=sess-abc"


def test_expired_session(client: httpx.Client) -> None:
    response = client.post("/get_access_token", data={"session_token": "expired"})
    assert response.status_code == 500
    assert response.json() == {"message": "failed to get [access_token]: RefreshAccessTokenError"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api-broken", "the login service sent a reply that is not valid JSON"),
        ("/api-nomessage", "failed to get [access_token]"),
    ],
)
def test_odd_login_service_replies(emulator: EmulatorThread, path: str, message: str) -> None:
    with ServiceThread(auth_url=f"{emulator.url}{path}") as svc:
        response = httpx.post(
            f"{svc.url}/get_access_token", data={"email": "a@example.com", "password": "pw"}
        )
    assert response.status_code == 500
    assert response.json() == {"message": message}


def test_unconfigured_services_are_named() -> None:
    with ServiceThread() as svc:
        login = httpx.post(f"{svc.url}/get_access_token", data={"email": "a@b.c", "password": "p"})
        session = httpx.post(f"{svc.url}/get_access_token", data={"session_token": "s"})
    assert login.json() == {
        "message": "no upstream configured: set CHATGPT_API_AUTH_URL (or --auth-url)"
    }
    assert session.json() == {
        "message": "no upstream configured: set CHATGPT_API_SESSION_URL (or --session-url)"
    }


def test_unreachable_login_service() -> None:
    with ServiceThread(auth_url="http://127.0.0.1:9/api") as svc:
        response = httpx.post(
            f"{svc.url}/get_access_token", data={"email": "a@b.c", "password": "p"}
        )
    assert response.json() == {
        "message": "fetch failed: cannot reach 127.0.0.1:9 (connection refused)"
    }


def test_tokens_are_cached_until_shortly_before_expiry(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    emulator.clear()
    fields = {"email": "cache@example.com", "password": "pw-cache"}
    first = client.post("/get_access_token", data=fields).json()
    second = client.post("/get_access_token", data=fields).json()
    assert first == second
    assert len(emulator.requests) == 1  # the second answer came from the cache
    client.post("/get_access_token", data={**fields, "password": "other"})
    assert len(emulator.requests) == 2  # other credentials: another login
    emulator.clear()
    a = client.post("/get_access_token", data={"session_token": "cached-sess"}).json()
    b = client.post("/get_access_token", data={"session_token": "cached-sess"}).json()
    assert a == b and len(emulator.requests) == 1


def test_token_cache_respects_expiry() -> None:
    import time

    from chatgpt_api.testing import make_fake_jwt
    from chatgpt_api.upstream_login.client import AccessToken
    from chatgpt_api.upstream_login.token_cache import TokenCache

    cache = TokenCache(margin=300, max_entries=2)
    soon = AccessToken(make_fake_jwt(int(time.time()) + 200))  # inside the margin: not kept
    cache.put("a", soon)
    assert cache.get("a") is None
    later = AccessToken(make_fake_jwt(int(time.time()) + 3600))
    for key in ("b", "c", "d"):
        cache.put(key, later)
    assert cache.get("b") is None and cache.get("d") == later  # bounded, oldest dropped
    assert TokenCache.key("x", "y") != TokenCache.key("x", "y ")
