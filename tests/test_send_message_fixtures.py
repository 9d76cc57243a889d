"""Every conformance fixture F1–F12 end to end: client → service → emulator, real sockets."""

from __future__ import annotations

import httpx
import orjson
import pytest

from chatgpt_api.testing import FIXTURES, EmulatorThread
from tests.conftest import fixture_url

C4 = "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13"
C8 = "6a1b2c3d-4e5f-8012-9abc-def012345678"
A = "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"

SUCCESS = {
    "F1": {"text": "Two plus two is four.", "conversation_id": C4, "parent_message_id": A},
    "F2": {"text": "Hi there!", "conversation_id": C8, "parent_message_id": A},
    "F3": {"text": "Hi there!", "conversation_id": C8, "parent_message_id": A},
    "F6": {"text": "Complete-looking answer.", "conversation_id": C4, "parent_message_id": A},
    "F11": {"text": "CRLF text", "conversation_id": C4, "parent_message_id": A},
    "F12-multimodal": {"text": "", "conversation_id": C4, "parent_message_id": A},
    "slow-drip": {"text": "Two plus two is four.", "conversation_id": C4, "parent_message_id": A},
}

FAILURE = {
    "F4": {"message": "Something went wrong while generating the response."},
    "F5": {
        "message": "Our systems have detected unusual activity coming from your system. "
        "Please try again later."
    },
    "F7a": {"message": "terminated", "text": "Cut off mid"},
    "F7b": {"message": "terminated"},
    "F8": {"message": "ChatGPT sent an event that is not valid JSON"},
    "F10": {"message": "ChatGPT error Invalid model: model_not_found (invalid_request_error)"},
    "F10-weird": {"message": 'ChatGPT error 200: {"detail":"weird"}'},
    "F12-done": {"message": "ChatGPT sent no answer"},
    "huge-line": {"message": "ChatGPT sent an event larger than 1048576 bytes"},
}


def send(client: httpx.Client, emulator: EmulatorThread, name: str, **extra: str) -> httpx.Response:
    data = {"access_token": "tok", "prompt": "Say hi", "reverse_proxy": fixture_url(emulator, name)}
    return client.post("/send_message", data={**data, **extra})


@pytest.mark.parametrize("name", sorted(SUCCESS))
def test_fixture_answers(client: httpx.Client, emulator: EmulatorThread, name: str) -> None:
    response = send(client, emulator, name)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == SUCCESS[name]
    assert list(response.json()) == ["text", "conversation_id", "parent_message_id"]


@pytest.mark.parametrize("name", sorted(FAILURE))
def test_fixture_errors(client: httpx.Client, emulator: EmulatorThread, name: str) -> None:
    response = send(client, emulator, name)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == FAILURE[name]


@pytest.mark.parametrize("name", sorted(n for n in FIXTURES if n.startswith("F9-")))
def test_upstream_http_errors_carry_status_and_body(
    client: httpx.Client, emulator: EmulatorThread, name: str
) -> None:
    fixture = FIXTURES[name]
    response = send(client, emulator, name)
    assert response.status_code == 500
    expected = f"ChatGPT error {fixture.status}: {fixture.body.decode()}"
    assert response.json() == {"message": expected}


def test_json_reply_instead_of_stream_is_reported_at_once(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    response = send(client, emulator, "F12-wss")
    assert response.status_code == 500
    message = response.json()["message"]
    assert message.startswith("ChatGPT error 200: {")
    assert "wss_url" in message


def test_utf8_split_across_chunks_is_decoded(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    response = send(client, emulator, "F12-utf8")
    assert response.status_code == 200
    assert response.json()["text"] == "你好世界"
    assert "你好世界".encode() in response.content  # raw UTF-8, not \\u escapes


def test_redirect_is_not_followed(client: httpx.Client, emulator: EmulatorThread) -> None:
    emulator.clear()
    response = send(client, emulator, "redirect")
    assert response.status_code == 500
    assert response.json()["message"].startswith("ChatGPT error 302: ")
    assert len(emulator.requests) == 1  # the token was not re-sent to the redirect target


def test_garbage_stream_is_an_error(client: httpx.Client, emulator: EmulatorThread) -> None:
    response = send(client, emulator, "garbage")
    assert response.status_code == 500
    assert response.json()["message"] in {
        "ChatGPT sent no answer",
        "ChatGPT sent an event that is not valid JSON",
    }


def test_stream_mode_reports_in_stream_errors_as_error_frame(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    response = send(client, emulator, "F4", stream="true")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.content == (
        b'data: {"delta":"Partial ans"}\n\n'
        b"event: error\n" + b"data: " + orjson.dumps(FAILURE["F4"]) + b"\n\n"
    )


def test_stream_mode_cut_off_stream_carries_partial_text(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    response = send(client, emulator, "F7a", stream="true")
    assert response.content.endswith(
        b'event: error\ndata: {"message":"terminated","text":"Cut off mid"}\n\n'
    )


def test_stream_mode_error_before_first_byte_is_plain_500(
    client: httpx.Client, emulator: EmulatorThread
) -> None:
    response = send(client, emulator, "F9-401", stream="true")
    assert response.status_code == 500
    assert response.json()["message"].startswith("ChatGPT error 401: ")


def test_stream_mode_f3_deltas(client: httpx.Client, emulator: EmulatorThread) -> None:
    response = send(client, emulator, "F3", stream="true")
    frames = [f for f in response.text.split("\n\n") if f]
    assert frames[:3] == ['data: {"delta":"Hi"}', 'data: {"delta":" there"}', 'data: {"delta":"!"}']
    assert orjson.loads(frames[3].removeprefix("data: ")) == SUCCESS["F3"]
    assert frames[4] == "data: [DONE]"
    assert len(frames) == 5
