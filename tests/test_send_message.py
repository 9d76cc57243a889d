"""/send_message: fields, validation, the upstream request, form vs JSON, bad input."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from chatgpt_api.api import seed
from chatgpt_api.testing import EmulatorThread
from tests.conftest import fixture_url
from tests.servers import ServiceThread


def post_json(client: httpx.Client, body: object) -> httpx.Response:
    return client.post(
        "/send_message", content=orjson.dumps(body), headers={"content-type": "application/json"}
    )


def test_form_and_json_bodies_give_the_same_answer(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    form = client.post("/send_message", data={"access_token": "tok", "prompt": "1+1=? 你"})
    as_json = post_json(client, {"access_token": "tok", "prompt": "1+1=? 你"})
    assert form.status_code == as_json.status_code == 200
    assert form.json()["text"] == as_json.json()["text"]
    assert 'You said: "1+1=? 你"' in form.json()["text"]


def test_upstream_request_as_received(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = client.post(
        "/send_message",
        content=b"access_token=tok-123&prompt=1+1%3D%3F%20%E4%BD%A0",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    (received,) = emulator.requests
    assert received.method == "POST"
    assert received.path == "/backend-api/conversation"
    assert received.headers["authorization"] == "Bearer tok-123"
    assert received.headers["accept"] == "text/event-stream"
    assert received.headers["content-type"] == "application/json"
    body = orjson.loads(received.body)
    assert list(body) == ["action", "messages", "model", "parent_message_id"]
    assert body["action"] == "next"
    assert body["model"] == "gpt-3.5-turbo"
    (message,) = body["messages"]
    assert list(message) == ["id", "author", "role", "content"]
    assert message["author"] == {"role": "user"}
    assert message["role"] == "user"
    assert message["content"] == {"content_type": "text", "parts": ["1 1=? 你"]}
    assert uuid.UUID(message["id"]).version == 4
    assert uuid.UUID(body["parent_message_id"]).version == 4
    assert received.body == orjson.dumps(body)  # compact JSON


def test_follow_up_uses_returned_ids(client: httpx.Client, emulator: EmulatorThread) -> None:
    first = client.post("/send_message", data={"access_token": "tok", "prompt": "one"}).json()
    assert first["conversation_id"][14] == "8"  # a modern version-8 id is accepted back
    emulator.clear()
    second = client.post(
        "/send_message",
        data={
            "access_token": "tok",
            "prompt": "two",
            "model": "gpt-4",
            "conversation_id": first["conversation_id"],
            "parent_message_id": first["parent_message_id"],
        },
    )
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == first["conversation_id"]
    assert "turn 2" in second.json()["text"]
    body = orjson.loads(emulator.requests[0].body)
    assert list(body)[-1] == "conversation_id"
    assert body["conversation_id"] == first["conversation_id"]
    assert body["parent_message_id"] == first["parent_message_id"]
    assert body["model"] == "gpt-4"


VALIDATION = [
    ({}, seed.MISSING_TOKEN_OR_PROMPT),
    ({"access_token": "tok"}, seed.MISSING_TOKEN_OR_PROMPT),
    ({"prompt": "hi"}, seed.MISSING_TOKEN_OR_PROMPT),
    ({"access_token": "", "prompt": "hi"}, seed.MISSING_TOKEN_OR_PROMPT),
    (
        {"access_token": "tok", "prompt": "hi", "conversation_id": str(uuid.uuid4())},
        seed.IDS_NOT_PAIRED,
    ),
    (
        {"access_token": "tok", "prompt": "hi", "parent_message_id": str(uuid.uuid4())},
        seed.IDS_NOT_PAIRED,
    ),
    (
        {
            "access_token": "tok",
            "prompt": "hi",
            "conversation_id": "nope",
            "parent_message_id": str(uuid.uuid4()),
        },
        seed.BAD_CONVERSATION_ID,
    ),
    (
        {
            "access_token": "tok",
            "prompt": "hi",
            "conversation_id": str(uuid.uuid4()),
            "parent_message_id": "nope",
        },
        seed.BAD_PARENT_ID,
    ),
    (
        {"access_token": "tok", "prompt": "hi", "timeout": "-5"},
        "Expected `milliseconds` to be a positive number, got `-5`",
    ),
    (
        {"access_token": "tok", "prompt": "hi", "timeout": "-1.5"},
        "Expected `milliseconds` to be a positive number, got `-1.5`",
    ),
    (
        {"access_token": "tok", "prompt": "hi", "timeout": "-Infinity"},
        "Expected `milliseconds` to be a positive number, got `-Infinity`",
    ),
    (
        {"access_token": "tok", "prompt": "hi", "stream": "maybe"},
        "invalid [stream]: expected true or false",
    ),
]


@pytest.mark.parametrize(("fields", "message"), VALIDATION)
@pytest.mark.parametrize("encoding", ["form", "json"])
def test_validation_messages_and_nothing_sent_upstream(
    client: httpx.Client,
    emulator: EmulatorThread,
    fields: dict[str, str],
    message: str,
    encoding: str,
) -> None:
    emulator.clear()
    if encoding == "form":
        response = client.post("/send_message", data=fields)
    else:
        response = post_json(client, fields)
    assert response.status_code == 500
    assert response.json() == {"message": message}
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"access_token=a&prompt=x&prompt=y",
            "application/x-www-form-urlencoded",
            "invalid [prompt]: given more than once",
        ),
        (
            b"access_token=a&prompt=%FF%FE",
            "application/x-www-form-urlencoded",
            "request body is not valid UTF-8",
        ),
        (
            b"access_token=a&prompt=x",
            "application/x-www-form-urlencoded; charset=latin1",
            'unsupported charset "LATIN1"',
        ),
        (
            "&".join(f"k{i}=v" for i in range(1001)).encode(),
            "application/x-www-form-urlencoded",
            "too many parameters",
        ),
        (
            b'{"access_token": "a", "prompt": 5}',
            "application/json",
            "invalid [prompt]: expected a string",
        ),
        (
            b'{"access_token": ["a"], "prompt": "x"}',
            "application/json",
            "invalid [access_token]: expected a string",
        ),
        (b'["access_token"]', "application/json", "invalid JSON body: expected an object"),
        (
            b'{"access_token": "a", "prompt": "x", "timeout": true}',
            "application/json",
            "invalid [timeout]: expected a number of milliseconds",
        ),
        (
            b"<xml/>",
            "application/xml",
            'unsupported content type "application/xml": send application/x-www-form-urlencoded '
            "or application/json",
        ),
    ],
)
def test_bad_bodies(
    client: httpx.Client, emulator: EmulatorThread, body: bytes, content_type: str, message: str
) -> None:
    emulator.clear()
    response = client.post("/send_message", content=body, headers={"content-type": content_type})
    assert response.status_code == 500
    assert response.json() == {"message": message}
    assert emulator.requests == []


def test_broken_utf8_json(client: httpx.Client) -> None:
    response = client.post(
        "/send_message",
        content=b'{"access_token": "a", "prompt": "\xff"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 500
    assert response.json()["message"].startswith("invalid JSON body: ")


def test_multipart_form_is_accepted(client: httpx.Client) -> None:
    response = client.post(
        "/send_message", files={"access_token": (None, "tok"), "prompt": (None, "multi")}
    )
    assert response.status_code == 200, response.text
    assert 'You said: "multi"' in response.json()["text"]


def test_multipart_file_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/send_message", data={"access_token": "tok"}, files={"prompt": ("p.txt", b"hi")}
    )
    assert response.json() == {"message": "invalid [prompt]: file uploads are not accepted"}


def test_body_over_the_limit(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    big = "x" * (64 * 1024 + 1)
    response = client.post("/send_message", data={"access_token": "tok", "prompt": big})
    assert response.status_code == 500
    assert response.json() == {"message": "request entity too large"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        yield b"access_token=tok&prompt="
        for _ in range(70):
            yield b"y" * 1024

    response = client.post(
        "/send_message",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json() == {"message": "request entity too large"}
    assert emulator.requests == []
    assert (
        client.post("/send_message", data={"access_token": "t", "prompt": "ok"}).status_code == 200
    )


def test_empty_model_and_parent_fall_back_to_defaults(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    emulator.clear()
    response = client.post(
        "/send_message",
        data={
            "access_token": "tok",
            "prompt": "hi",
            "model": "",
            "conversation_id": "",
            "parent_message_id": "",
        },
    )
    assert response.status_code == 200
    body = orjson.loads(emulator.requests[0].body)
    assert body["model"] == "gpt-3.5-turbo"
    assert uuid.UUID(body["parent_message_id"])
    assert "conversation_id" not in body


def test_bad_reverse_proxies(client: httpx.Client) -> None:
    def ask(proxy: str) -> httpx.Response:
        return client.post(
            "/send_message", data={"access_token": "tok", "prompt": "hi", "reverse_proxy": proxy}
        )

    assert ask("").json() == {"message": "Failed to parse URL from "}
    assert ask("not a url").json() == {"message": "Failed to parse URL from not a url"}
    assert ask("ftp://127.0.0.1/x").json() == {
        "message": "Failed to parse URL from ftp://127.0.0.1/x"
    }
    masked = ask("http://user:secret@/x").json()["message"]
    assert "secret" not in masked
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = f"fetch failed: cannot reach 127.0.0.1:{port} (connection refused)"
    assert ask(f"http://127.0.0.1:{port}/c").json() == {"message": refused}
    # The upstream is named by host and port only: never its path, query or userinfo.
    leaky = ask(f"http://127.0.0.1:{port}/c/sk-secret-path?key=sk-secret-query").json()
    assert leaky == {"message": refused}


def test_non_http_reverse_proxy(client: httpx.Client) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def speak_garbage() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01garbage\r\n\r\n")

    thread = threading.Thread(target=speak_garbage, daemon=True)
    thread.start()
    try:
        response = client.post(
            "/send_message",
            data={
                "access_token": "tok",
                "prompt": "hi",
                "reverse_proxy": f"http://127.0.0.1:{port}/",
            },
        )
        assert response.status_code == 500
        assert response.json() == {
            "message": f"fetch failed: cannot reach 127.0.0.1:{port} (the answer is not HTTP)"
        }
    finally:
        server.close()
    assert (
        client.post("/send_message", data={"access_token": "t", "prompt": "ok"}).status_code == 200
    )


def test_missing_reverse_proxy_setting_is_named(emulator: EmulatorThread) -> None:
    with ServiceThread() as svc:
        response = httpx.post(
            f"{svc.url}/send_message", data={"access_token": "tok", "prompt": "hi"}
        )
        assert response.status_code == 500
        assert response.json() == {
            "message": "no upstream configured: set CHATGPT_API_REVERSE_PROXY "
            "(or --reverse-proxy) or pass [reverse_proxy] in the request"
        }
        ok = httpx.post(
            f"{svc.url}/send_message",
            data={
                "access_token": "tok",
                "prompt": "hi",
                "reverse_proxy": fixture_url(emulator, "F1"),
            },
        )
        assert ok.json()["text"] == "Two plus two is four."


def test_json_key_given_twice_is_refused(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = client.post(
        "/send_message",
        content=b'{"access_token": "a", "prompt": "x", "meta": {"k": 1, "j": 2}, "prompt": "y"}',
        headers={"content-type": "application/json"},
    )
    assert response.json() == {"message": "invalid [prompt]: given more than once"}
    assert emulator.requests == []


def test_json_key_given_twice_with_spaces_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/send_message",
        content=b'{"access_token" : "a", "prompt" : "x", "prompt"\n:\t"y"}',
        headers={"content-type": "application/json"},
    )
    assert response.json() == {"message": "invalid [prompt]: given more than once"}
