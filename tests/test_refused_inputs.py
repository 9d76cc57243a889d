"""Inputs refused before any upstream (issue 13, items 10 and 11), through a real server.

* A credential with NUL, CR, LF or another control character cannot go into an
  ``Authorization`` header: it is refused with a clear message (seed routes: their 500
  ``{"message"}``; ``/v1``: 400), nothing reaches the upstream and nothing is stored.
* An empty ``reverse_proxy`` is a bad URL on every backend (``Failed to parse URL from ``, the
  seed's behaviour): never a silent fallback to the configured upstream with the client's token.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.errors import RequestError
from chatgpt_api.header_values import INVALID_CREDENTIAL, check_header_credential
from chatgpt_api.testing import EmulatorThread
from tests.reliability import record
from tests.report_reliability import mismatches
from tests.servers import ServiceThread

BAD_TOKENS = {
    "NUL": "tok\x00en",
    "CR LF": "tok\r\nX-Injected: 1",
    "LF": "tok\nen",
    "control character": "tok\x01en",
}


@pytest.fixture(scope="module")
def svc(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home: Path = tmp_path_factory.mktemp("refused-inputs")
    (home / "models.toml").write_text(
        f'[models."compat"]\nbackend = "openai-compatible"\nbase_url = "{emulator.url}/v1"\n'
        'api_key = "sk-configured"\n'
    )
    with ServiceThread(
        home=home,
        models_file=home / "models.toml",
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        session_url=f"{emulator.url}/api/auth/session",
    ) as service:
        yield service


def stored_titles(svc: ServiceThread) -> list[str]:
    page = httpx.get(f"{svc.url}/v1/conversations", params={"limit": 100}, timeout=10).json()
    return [c["title"] for c in page["data"]]


def raw_request(port: int, head: bytes, body: bytes) -> tuple[int, bytes]:
    """One request on a raw socket (headers httpx would refuse to send): status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_seed_refuses_a_token_a_header_cannot_carry(
    svc: ServiceThread, emulator: EmulatorThread, kind: str
) -> None:
    emulator.clear()
    prompt = f"bad token {uuid.uuid4().hex[:8]}"
    expect: dict[str, Any] = {}
    got: dict[str, Any] = {}
    # The web backend and an OpenAI-style one, whole and streamed, form and JSON bodies.
    for model in ("gpt-3.5-turbo", "compat"):
        for stream in (False, True):
            fields = {"access_token": BAD_TOKENS[kind], "prompt": prompt, "model": model}
            if stream:
                response = httpx.post(f"{svc.url}/send_message", json={**fields, "stream": True})
            else:
                response = httpx.post(f"{svc.url}/send_message", data=fields)
            case = f"{model}{' stream' if stream else ''}"
            expect[case] = f"500 {INVALID_CREDENTIAL}"
            got[case] = f"{response.status_code} {response.json().get('message')}"
    time.sleep(0.1)
    expect |= {"upstream": 0, "stored": False}
    got |= {"upstream": len(emulator.requests), "stored": prompt in stored_titles(svc)}
    record(
        f"refused-credential-seed-{kind.replace(' ', '-')}",
        f"/send_message access_token with {kind} (web and OpenAI-style models, whole and streamed)",
        "500 with a clear message; nothing sent upstream; nothing stored",
        f"{got['compat'][:48]!r}…; {got['upstream']} upstream requests; stored: {got['stored']}",
        expect=expect,
        got=got,
        requests=4,
    )
    assert got == expect


@pytest.mark.parametrize("kind", ["control character", "DEL"])
def test_v1_refuses_a_bearer_credential_a_header_cannot_carry(
    svc: ServiceThread, emulator: EmulatorThread, kind: str
) -> None:
    """The HTTP parser (httptools) already answers 400 to any control character in a header
    value; the service's own check (the one the seed route shows) stands behind it should the
    server change. Either way: 400, nothing upstream, nothing stored."""
    emulator.clear()
    token = b"tok\x01en" if kind == "control character" else b"tok\x7fen"
    prompt = f"bad bearer {uuid.uuid4().hex[:8]}"
    body = httpx.Request(
        "POST", "/", json={"model": "compat", "messages": [{"role": "user", "content": prompt}]}
    ).read()
    status, answer = raw_request(
        int(svc.url.rsplit(":", 1)[1]),
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token + b"\r\n",
        body,
    )
    time.sleep(0.1)
    refusals = ["by the HTTP parser", "by the service"]
    expect = {"status": 400, "refused": refusals, "upstream": 0, "stored": False}
    got = {
        "status": status,
        "refused": "by the HTTP parser"
        if answer == b"Invalid HTTP request received."
        else "by the service"
        if INVALID_CREDENTIAL.encode() in answer
        else answer[:120].decode("latin-1"),
        "upstream": len(emulator.requests),
        "stored": prompt in stored_titles(svc),
    }
    record(
        f"refused-credential-v1-bearer-{kind.replace(' ', '-')}",
        f"/v1 Authorization: Bearer with a {kind} (passed through as the upstream credential)",
        "400, from the HTTP parser or the service's credential check; nothing sent upstream; "
        "nothing stored",
        f"{status} refused {got['refused']}; upstream requests {got['upstream']}; "
        f"stored {got['stored']}",
        expect=expect,
        got=got,
        requests=1,
    )
    assert not mismatches({"expect": expect, "got": got}), (got, answer)


def test_session_token_with_nul_is_refused_before_the_session_endpoint(
    svc: ServiceThread, emulator: EmulatorThread
) -> None:
    emulator.clear()
    response = httpx.post(f"{svc.url}/get_access_token", data={"session_token": "sess\x00ion"})
    assert response.status_code == 500
    assert response.json() == {"message": "invalid [session_token]"}
    assert emulator.requests == []


@pytest.mark.parametrize("model", ["compat", "gpt-3.5-turbo"])
def test_an_empty_reverse_proxy_is_a_bad_url_on_every_backend(
    svc: ServiceThread, emulator: EmulatorThread, model: str
) -> None:
    emulator.clear()
    prompt = f"empty proxy {uuid.uuid4().hex[:8]}"
    fields = {"access_token": "client-token", "prompt": prompt, "model": model, "reverse_proxy": ""}
    response = httpx.post(f"{svc.url}/send_message", data=fields)
    time.sleep(0.1)
    expect = {"status": 500, "message": "Failed to parse URL from ", "upstream": 0}
    got = {
        "status": response.status_code,
        "message": response.json().get("message"),
        "upstream": len(emulator.requests),
    }
    record(
        f"empty-reverse-proxy-{model}",
        f'/send_message reverse_proxy="" on {model} (a configured upstream exists)',
        "500 Failed to parse URL from ; the configured upstream never gets the client's token",
        f"{got['status']} {got['message']!r}; {got['upstream']} upstream requests",
        expect=expect,
        got=got,
        requests=1,
    )
    assert not mismatches({"expect": expect, "got": got}), got


@pytest.mark.parametrize("token", [*BAD_TOKENS.values(), "tok\x7f"])
def test_the_check_refuses_every_control_character_but_tab(token: str) -> None:
    with pytest.raises(RequestError, match="control character"):
        check_header_credential(token)
    check_header_credential("tok\ten")  # a tab is allowed in a header value
    check_header_credential("eyJ.é-_~+/=")
    check_header_credential(None)
