"""Tests of the upstream emulator (chatgpt_api.testing), driven over real HTTP with httpx."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from chatgpt_api.testing import (
    FIXTURES,
    Emulator,
    EmulatorOptions,
    EmulatorThread,
    create_emulator_app,
    make_fake_jwt,
)

CONVERSATION = "/backend-api/conversation"
AUTH = {"Authorization": "Bearer tok"}
V8_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Fixtures whose body ends by itself (cleanly); the others are tested separately.
ENDLESS = {"never-ends", "stall", "stall-headers", "slow-drip"}
RESETS = {name for name, fx in FIXTURES.items() if fx.ending in ("reset", "reset-headers")}
FINITE = sorted(set(FIXTURES) - ENDLESS - RESETS)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as c:
        yield c


def turn_body(
    prompt: str,
    *,
    conversation_id: str | None = None,
    parent: str | None = None,
    v1: bool = False,
) -> dict[str, Any]:
    """The request body the service sends upstream."""
    body: dict[str, Any] = {
        "action": "next",
        "messages": [
            {
                "id": str(uuid.uuid4()),
                "author": {"role": "user"},
                "role": "user",
                "content": {"content_type": "text", "parts": [prompt]},
            }
        ],
        "model": "gpt-3.5-turbo",
        "parent_message_id": parent or str(uuid.uuid4()),
    }
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    if v1:
        body["supported_encodings"] = ["v1"]
    return body


def sse_events(body: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of every event of an LF-delimited SSE body."""
    events: list[tuple[str | None, str]] = []
    for block in body.decode().split("\n\n"):
        if not block:
            continue
        name = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, "\n".join(data)))
    return events


def legacy_answer(body: bytes) -> tuple[list[dict[str, Any]], str, str, str]:
    """All JSON events, and the final assistant text, message id and conversation id."""
    events = sse_events(body)
    assert events[-1] == (None, "[DONE]")
    objs = [json.loads(data) for _, data in events[:-1]]
    assistant = [
        o["message"]
        for o in objs
        if o.get("message", {}).get("author", {}).get("role") == "assistant"
    ]
    last = assistant[-1]
    return objs, last["content"]["parts"][0], last["id"], objs[0]["conversation_id"]


def v1_answer(body: bytes) -> tuple[list[tuple[str | None, Any]], str, str, str]:
    """Replay a delta-encoded v1 stream; the assistant's text, message id and conversation id."""
    events = [(name, data) for name, data in sse_events(body)]
    assert events[0] == ("delta_encoding", '"v1"')
    assert events[-1] == (None, "[DONE]")
    parsed = [(name, json.loads(data)) for name, data in events[1:-1]]
    docs: dict[int, dict[str, Any]] = {}
    current = -1
    last_p: str | None = None
    last_o: str | None = None

    def apply(doc: dict[str, Any], p: str, o: str, v: Any) -> None:
        if p == "/message/content/parts/0" and o == "append":
            doc["message"]["content"]["parts"][0] += v
        elif p == "/message/status" and o == "replace":
            doc["message"]["status"] = v
        elif p == "/message/end_turn" and o == "replace":
            doc["message"]["end_turn"] = v
        elif p == "/message/metadata" and o == "append":
            doc["message"]["metadata"].update(v)
        else:
            raise AssertionError(f"unexpected op {p} {o}")

    for name, obj in parsed:
        if name != "delta":
            assert name is None and "type" in obj
            continue
        if "c" in obj:
            current = obj["c"]
        p, o = obj.get("p", last_p), obj.get("o", last_o)
        last_p, last_o = p, o
        if isinstance(obj["v"], dict) and "message" in obj["v"]:
            docs[current] = obj["v"]
        elif o == "patch":
            for op in obj["v"]:
                apply(docs[current], op["p"], op["o"], op["v"])
        else:
            apply(docs[current], p, o, obj["v"])
    assistant = next(d for d in docs.values() if d["message"]["author"]["role"] == "assistant")
    message = assistant["message"]
    assert message["status"] == "finished_successfully"
    assert message["end_turn"] is True
    return parsed, message["content"]["parts"][0], message["id"], assistant["conversation_id"]


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("name", FINITE)
def test_fixture_bytes(emu: EmulatorThread, client: httpx.Client, name: str) -> None:
    fixture = FIXTURES[name]
    r = client.post(f"{emu.url}/fixtures/{name}{CONVERSATION}", json={"action": "next"})
    assert r.status_code == fixture.status
    assert r.headers.get("content-type") == fixture.content_type
    assert r.content == fixture.body
    assert r.headers.get("connection", "").lower() != "close"
    if fixture.chunked:
        assert r.headers["transfer-encoding"] == "chunked"
    else:
        assert int(r.headers["content-length"]) == len(fixture.body)


def test_fixture_by_header_and_paths(emu: EmulatorThread, client: httpx.Client) -> None:
    for path in ("/backend-api/conversation", "/api/conversation", "/conversation"):
        r = client.post(emu.url + path, headers={"X-Emulator-Fixture": "F3"}, content=b"{}")
        assert r.status_code == 200
        assert r.content == FIXTURES["F3"].body


def test_unknown_fixture(emu: EmulatorThread, client: httpx.Client) -> None:
    r = client.post(f"{emu.url}{CONVERSATION}", headers={"X-Emulator-Fixture": "F99"})
    assert r.status_code == 400
    assert "F99" in r.json()["detail"]
    r = client.post(f"{emu.url}/fixtures/nope{CONVERSATION}")
    assert r.status_code == 400


def test_redirect_points_back_to_the_emulator(emu: EmulatorThread, client: httpx.Client) -> None:
    r = client.post(f"{emu.url}/fixtures/redirect{CONVERSATION}", headers=AUTH)
    assert r.status_code == 302
    assert r.headers["location"] == f"{emu.url}/fixtures/F1{CONVERSATION}"
    followed = client.post(f"{emu.url}/fixtures/redirect{CONVERSATION}", follow_redirects=True)
    assert followed.content == FIXTURES["F1"].body


def test_events_are_separate_writes(emu: EmulatorThread) -> None:
    fixture = FIXTURES["F12-utf8"]
    headers = {"X-Emulator-Fixture": "F12-utf8", "X-Emulator-Delay-Ms": "80"}
    with httpx.stream("POST", f"{emu.url}{CONVERSATION}", headers=headers) as r:
        pieces = list(r.iter_raw())
    assert b"".join(pieces) == fixture.body
    assert pieces[0] == fixture.chunks[0]
    with pytest.raises(UnicodeDecodeError):
        pieces[0].decode()


def test_delay_and_stall_headers(emu: EmulatorThread, client: httpx.Client) -> None:
    start = time.monotonic()
    r = client.post(
        f"{emu.url}/fixtures/F1{CONVERSATION}",
        headers={"X-Emulator-Stall-Ms": "150", "X-Emulator-Delay-Ms": "30"},
    )
    assert r.content == FIXTURES["F1"].body
    assert time.monotonic() - start >= 0.15 + 3 * 0.03
    bad = client.post(f"{emu.url}/fixtures/F1{CONVERSATION}", headers={"X-Emulator-Delay-Ms": "x"})
    assert bad.status_code == 400


@pytest.mark.parametrize("name", sorted(RESETS))
def test_reset_fixtures_really_reset(emu: EmulatorThread, name: str) -> None:
    received = b""
    url = f"{emu.url}/fixtures/{name}{CONVERSATION}"
    with (
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
        httpx.stream("POST", url) as r,
    ):
        assert r.status_code == 200
        for piece in r.iter_raw():
            received += piece
    assert received == FIXTURES[name].body
    if name == "F7a":
        assert b'"parts": ["Cut off mid"]' in received


def test_slow_drip(emu: EmulatorThread) -> None:
    start = time.monotonic()
    with httpx.stream("POST", f"{emu.url}/fixtures/slow-drip{CONVERSATION}") as r:
        got = b""
        reads = 0
        for piece in r.iter_raw():
            got += piece
            reads += 1
            if len(got) >= 8:
                break
    assert FIXTURES["F1"].body.startswith(got)
    assert reads >= 4
    assert time.monotonic() - start >= 0.06  # 7 gaps of 10 ms between the first 8 bytes


def test_garbage_and_huge_line(emu: EmulatorThread, client: httpx.Client) -> None:
    garbage = client.post(f"{emu.url}/fixtures/garbage{CONVERSATION}").content
    with pytest.raises(UnicodeDecodeError):
        garbage.decode("utf-8")
    huge = client.post(f"{emu.url}/fixtures/huge-line{CONVERSATION}").content
    first, _, rest = huge.partition(b"\n")
    assert len(first) > 10 * 1024 * 1024
    assert rest == b"\ndata: [DONE]\n\n"
    assert json.loads(first[len(b"data: ") :])["message"]["author"]["role"] == "assistant"


# --------------------------------------------------------------------------- client goes away


@pytest.mark.parametrize("name", ["stall", "stall-headers"])
def test_client_going_away_during_a_stall_is_noticed(emu: EmulatorThread, name: str) -> None:
    emu.clear()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{emu.url}/fixtures/{name}{CONVERSATION}", timeout=0.2)
    left = time.monotonic()
    assert emu.wait_until_closed(0, timeout=1.0)
    record = emu.requests[0]
    assert record.client_went_away
    assert record.fixture == name
    assert record.ended_at is not None and record.ended_at - left < 1.0


def test_never_ends_stops_when_the_client_leaves(emu: EmulatorThread) -> None:
    emu.clear()
    with httpx.stream("POST", f"{emu.url}/fixtures/never-ends{CONVERSATION}") as r:
        got = b""
        for piece in r.iter_raw():
            got += piece
            if got.count(b": ping\n\n") >= 3:
                break
    assert emu.wait_until_closed(0, timeout=1.0)
    assert emu.requests[0].client_went_away


# --------------------------------------------------------------------------- demo backend


def test_demo_legacy_first_turn_and_follow_up(emu: EmulatorThread, client: httpx.Client) -> None:
    url = f"{emu.url}{CONVERSATION}"
    first = client.post(url, json=turn_body("What is 2+2?"), headers=AUTH)
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/event-stream; charset=utf-8"
    objs, text, assistant_id, cid = legacy_answer(first.content)
    assert text == 'You said: "What is 2+2?". This is turn 1 of this conversation.'
    assert V8_ID.match(cid)
    roles = [o["message"]["author"]["role"] for o in objs if "message" in o]
    assert roles[:3] == ["system", "user", "assistant"]
    assert objs[1]["message"]["content"]["parts"] == ["What is 2+2?"]
    assert objs[2]["message"]["status"] == "in_progress"
    assert objs[2]["message"]["content"]["parts"] == [""]
    texts = [o["message"]["content"]["parts"][0] for o in objs[3:] if "message" in o]
    assert len(texts) == EmulatorOptions().chunks
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))  # cumulative
    last = [o for o in objs if "message" in o][-1]["message"]
    assert last["status"] == "finished_successfully" and last["end_turn"] is True
    assert [o["type"] for o in objs if "type" in o] == [
        "title_generation",
        "message_stream_complete",
    ]

    second = client.post(
        url, json=turn_body("And 3+3?", conversation_id=cid, parent=assistant_id), headers=AUTH
    )
    objs2, text2, assistant2, cid2 = legacy_answer(second.content)
    assert cid2 == cid
    assert assistant2 != assistant_id
    assert text2 == 'You said: "And 3+3?". This is turn 2 of this conversation.'
    assert "system" not in [o["message"]["author"]["role"] for o in objs2 if "message" in o]
    assert [o["type"] for o in objs2 if "type" in o] == ["message_stream_complete"]

    # Branching from the first answer again is turn 2 as well; an unknown parent is accepted.
    again = client.post(
        url, json=turn_body("Other", conversation_id=cid, parent=assistant_id), headers=AUTH
    )
    assert legacy_answer(again.content)[1].endswith("turn 2 of this conversation.")
    lenient = client.post(
        url, json=turn_body("x", conversation_id=cid, parent=str(uuid.uuid4())), headers=AUTH
    )
    assert lenient.status_code == 200


def test_demo_v1_first_turn_and_follow_up(emu: EmulatorThread, client: httpx.Client) -> None:
    url = f"{emu.url}/api/conversation"
    first = client.post(url, json=turn_body("Say hi", v1=True), headers=AUTH)
    assert first.status_code == 200
    parsed, text, assistant_id, cid = v1_answer(first.content)
    assert text == 'You said: "Say hi". This is turn 1 of this conversation.'
    assert V8_ID.match(cid)
    assert parsed[0][1]["type"] == "resume_conversation_token"
    assert parsed[1] == ("delta", parsed[1][1]) and parsed[1][1]["o"] == "add"
    assert parsed[1][1]["c"] == 0
    shorthand = [obj for name, obj in parsed if name == "delta" and set(obj) == {"v"}]
    assert shorthand and all(isinstance(obj["v"], str) for obj in shorthand)
    types = [obj["type"] for name, obj in parsed if name is None]
    assert types == [
        "resume_conversation_token",
        "message_marker",
        "title_generation",
        "message_stream_complete",
    ]

    second = client.post(
        url,
        json=turn_body("Again", conversation_id=cid, parent=assistant_id, v1=True),
        headers=AUTH,
    )
    parsed2, text2, _, cid2 = v1_answer(second.content)
    assert cid2 == cid
    assert text2 == 'You said: "Again". This is turn 2 of this conversation.'
    assert "title_generation" not in [obj.get("type") for _, obj in parsed2]


def test_demo_errors(emu: EmulatorThread, client: httpx.Client) -> None:
    url = f"{emu.url}{CONVERSATION}"
    missing = client.post(url, json=turn_body("hi"))
    assert missing.status_code == 401
    assert missing.content == b'{"detail":{"message":"Unauthorized - Access token is missing"}}'
    expired = client.post(url, json=turn_body("hi"), headers={"Authorization": "Bearer expired"})
    assert expired.status_code == 401
    assert expired.content == FIXTURES["F9-401"].body
    unknown = client.post(
        url, json=turn_body("hi", conversation_id=str(uuid.uuid4())), headers=AUTH
    )
    assert unknown.status_code == 404
    assert unknown.content == FIXTURES["F9-404"].body
    invalid = client.post(url, content=b"{not json", headers=AUTH)
    assert invalid.status_code == 400
    assert isinstance(invalid.json()["detail"], str)
    no_prompt = client.post(url, json={"action": "next", "messages": []}, headers=AUTH)
    assert no_prompt.status_code == 400


def test_demo_options() -> None:
    options = EmulatorOptions(chunks=2, chunk_delay_ms=40, require_auth=False)
    with EmulatorThread(options) as emu, httpx.Client() as client:
        start = time.monotonic()
        r = client.post(f"{emu.url}/conversation", json=turn_body("short"))
        elapsed = time.monotonic() - start
        objs, text, _, _ = legacy_answer(r.content)
    assert r.status_code == 200
    assert text.startswith('You said: "short"')
    assert (
        len([o for o in objs if o.get("message", {}).get("author", {}).get("role") == "assistant"])
        == 3
    )
    assert elapsed >= 0.04 * (len(objs) - 1)


# --------------------------------------------------------------------------- auth services


def jwt_payload(token: str) -> dict[str, Any]:
    header, payload, signature = token.split(".")
    assert signature and "=" not in token
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "RS256", "typ": "JWT"}
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 3))
    return result


def test_make_fake_jwt() -> None:
    token = make_fake_jwt(1_900_000_000)
    assert token.startswith("eyJhbGciOi")
    payload = jwt_payload(token)
    assert payload["exp"] == 1_900_000_000
    assert payload["sub"] == "user-emulator"
    assert payload["https://api.openai.com/auth"] == {"user_id": "user-emulator"}
    assert abs(payload["iat"] - time.time()) < 60


def test_session_endpoint(emu: EmulatorThread, client: httpx.Client) -> None:
    url = f"{emu.url}/api/auth/session"
    assert client.get(url).json() == {}
    cookie = "__Secure-next-auth.session-token"
    expired = client.get(url, headers={"Cookie": f"{cookie}=expired"})
    assert expired.json() == {"error": "RefreshAccessTokenError"}
    ok = client.get(url, headers={"Cookie": f"{cookie}=abc"}).json()
    assert ok["user"]["id"] == "user-emulator"
    assert ok["user"]["email"] == "user@example.com"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ok["expires"])
    expires = dt.datetime.fromisoformat(ok["expires"].replace("Z", "+00:00"))
    assert abs((expires - dt.datetime.now(dt.UTC)).days - 30) <= 1
    exp = jwt_payload(ok["accessToken"])["exp"]
    assert abs(exp - (time.time() + 14 * 86400)) < 60


@pytest.mark.parametrize("path", ["/api", "/auth"])
def test_auth_service(emu: EmulatorThread, client: httpx.Client, path: str) -> None:
    url = emu.url + path
    good = client.post(url, headers={"email": "a@b.c", "password": "pw", "proxy": ""})
    assert good.status_code == 200
    assert set(good.json()) == {"access_token"}
    jwt_payload(good.json()["access_token"])
    wrong = client.post(url, headers={"email": "a@b.c", "password": "wrong"})
    assert (wrong.status_code, wrong.json()) == (200, {"message": "wrong email or password"})
    missing = client.post(url, headers={"email": "a@b.c"})
    assert missing.json() == {"message": "email and password are required"}


def test_auth_variants(emu: EmulatorThread, client: httpx.Client) -> None:
    broken = client.post(f"{emu.url}/api-broken", headers={"email": "a@b.c", "password": "pw"})
    assert (broken.status_code, broken.text) == (200, "File not found.")
    assert client.post(f"{emu.url}/api-nomessage").json() == {}


# --------------------------------------------------------------------------- recording


def test_requests_are_recorded(emu: EmulatorThread, client: httpx.Client) -> None:
    emu.clear()
    body = turn_body("record me")
    client.post(
        f"{emu.url}{CONVERSATION}?x=1",
        json=body,
        headers={**AUTH, "Accept": "text/event-stream"},
    )
    assert emu.wait_until_closed(0)
    (record,) = emu.requests
    assert record.method == "POST"
    assert record.path == CONVERSATION
    assert record.query_string == "x=1"
    assert record.headers["authorization"] == "Bearer tok"
    assert record.headers["accept"] == "text/event-stream"
    assert record.json == body
    assert json.loads(record.body) == body
    assert record.ended_at is not None and record.ended_at >= record.received_at
    assert not record.client_went_away
    assert record.fixture is None

    listed = client.get(f"{emu.url}/_emulator/requests").json()
    assert len(listed) == 1  # /_emulator itself is not recorded
    assert listed[0]["json"] == body
    assert listed[0]["headers"]["authorization"] == "Bearer tok"
    assert client.delete(f"{emu.url}/_emulator/requests").status_code == 200
    assert emu.requests == []


def test_async_emulator() -> None:
    async def main() -> None:
        assert isinstance(create_emulator_app(), web.Application)
        async with Emulator(EmulatorOptions(chunks=3)) as emulator:
            assert emulator.url.startswith("http://127.0.0.1:")
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    f"{emulator.url}{CONVERSATION}", json=turn_body("async"), headers=AUTH
                )
            assert r.status_code == 200
            assert await emulator.wait_until_closed(0)
            assert emulator.requests[0].json["messages"][0]["content"]["parts"] == ["async"]

    asyncio.run(main())
