"""Conformance fixtures for the upstream emulator (protocol reference, part 5).

Every fixture is a canned upstream reply: status, content type, headers, the body as byte chunks
(one write each) and an *ending*: ``close`` (normal end), ``reset`` (TCP reset, no chunked
terminator), ``never-ends`` (a ``: ping`` every 100 ms), ``stall`` (silence), ``stall-headers``
(not even the status line) or ``reset-headers`` (reset before the status line); the waiting
endings are capped at 10 minutes. The SSE bodies are byte-exact copies of the reference.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "FIXTURES",
    "SSE_CONTENT_TYPE",
    "Ending",
    "Fixture",
    "message_doc",
    "sse_data",
    "sse_event",
]

Ending = Literal["close", "reset", "never-ends", "stall", "stall-headers", "reset-headers"]

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Fixture:
    """A canned upstream reply."""

    status: int
    content_type: str | None
    chunks: tuple[bytes, ...]
    ending: Ending = "close"
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: Send the body with chunked transfer encoding (else with ``Content-Length``).
    chunked: bool = True
    #: Pause between two chunks, in milliseconds (added to any per-request delay).
    delay_ms: int = 0
    description: str = ""

    @property
    def body(self) -> bytes:
        """The whole body, all chunks joined."""
        return b"".join(self.chunks)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def sse_data(obj: Any) -> bytes:
    """One unnamed SSE event: ``data: <json>`` and a blank line (``obj`` a str is sent raw)."""
    payload = obj if isinstance(obj, str) else _dumps(obj)
    return f"data: {payload}\n\n".encode()


def sse_event(name: str, obj: Any) -> bytes:
    """One named SSE event: ``event: <name>``, ``data: <json>`` and a blank line."""
    return f"event: {name}\ndata: {_dumps(obj)}\n\n".encode()


DONE = b"data: [DONE]\n\n"

C4 = "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13"
C8 = "6a1b2c3d-4e5f-8012-9abc-def012345678"
A = "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
U = "aaa1f0c2-3d4e-4f5a-8b6c-7d8e9f0a1b2c"
S = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"


# --- F1 -------------------------------------------------------------------------------------


def _f1_event(text: str, *, last: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {"message_type": "next", "model_slug": "text-davinci-002-render-sha"}
    if last:
        metadata["finish_details"] = {"type": "stop", "stop": "<|im_end|>"}
    message = {
        "id": A,
        "author": {"role": "assistant", "metadata": {}},
        "create_time": 1681000000.5,
        "content": {"content_type": "text", "parts": [text]},
        "end_turn": True if last else None,
        "weight": 1.0,
        "metadata": metadata,
        "recipient": "all",
    }
    return {"message": message, "conversation_id": C4, "error": None}


_F1 = (
    sse_data(_f1_event("Two", last=False)),
    sse_data(_f1_event("Two plus two", last=False)),
    sse_data(_f1_event("Two plus two is four.", last=True)),
    DONE,
)


# --- F2 / F3 (2024+ message documents) ------------------------------------------------------


def message_doc(
    msg_id: str,
    role: str,
    text: str,
    *,
    create_time: float | None,
    status: str,
    end_turn: bool | None,
    weight: float,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """A 2024+ message object with every field in the order ChatGPT sends them."""
    return {
        "id": msg_id,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": create_time,
        "update_time": None,
        "content": {"content_type": "text", "parts": [text]},
        "status": status,
        "end_turn": end_turn,
        "weight": weight,
        "metadata": metadata,
        "recipient": "all",
        "channel": None,
    }


def _doc(message: dict[str, Any], conversation_id: str = C8) -> dict[str, Any]:
    return {"message": message, "conversation_id": conversation_id, "error": None}


def _system(create_time: float | None = None) -> dict[str, Any]:
    return message_doc(
        S,
        "system",
        "",
        create_time=create_time,
        status="finished_successfully",
        end_turn=True,
        weight=0.0,
        metadata={"is_visually_hidden_from_conversation": True},
    )


_FINISH = {"finish_details": {"type": "stop", "stop_tokens": [200002]}, "is_complete": True}
_TITLE = {"type": "title_generation", "title": "Friendly greeting", "conversation_id": C8}
_COMPLETE = {"type": "message_stream_complete", "conversation_id": C8}


def _f2_assistant(text: str, status: str, metadata: dict[str, Any]) -> bytes:
    done = status == "finished_successfully"
    return sse_data(
        _doc(
            message_doc(
                A,
                "assistant",
                text,
                create_time=1729000000.3,
                status=status,
                end_turn=True if done else None,
                weight=1.0,
                metadata=metadata,
            )
        )
    )


_F2_SLUG = {"message_type": "next", "model_slug": "gpt-4o-mini"}
_F2 = (
    sse_data(_doc(_system())),
    sse_data(
        _doc(
            message_doc(
                U,
                "user",
                "Say hi",
                create_time=1729000000.1,
                status="finished_successfully",
                end_turn=None,
                weight=1.0,
                metadata={"message_type": None},
            )
        )
    ),
    _f2_assistant(
        "",
        "in_progress",
        {
            "citations": [],
            **_F2_SLUG,
            "default_model_slug": "auto",
            "parent_id": U,
        },
    ),
    _f2_assistant("Hi", "in_progress", dict(_F2_SLUG)),
    _f2_assistant("Hi there!", "finished_successfully", {**_F2_SLUG, **_FINISH}),
    sse_data(_TITLE),
    sse_data(_COMPLETE),
    DONE,
)

_F3_USER = message_doc(
    U,
    "user",
    "Say hi",
    create_time=1769000000.2,
    status="finished_successfully",
    end_turn=None,
    weight=1.0,
    metadata={},
)
_F3_ASSISTANT = message_doc(
    A,
    "assistant",
    "",
    create_time=1769000000.9,
    status="in_progress",
    end_turn=None,
    weight=1.0,
    metadata={"message_type": "next", "model_slug": "gpt-5", "parent_id": U},
)
_F3 = (
    sse_event("delta_encoding", "v1"),
    sse_data(
        {
            "type": "resume_conversation_token",
            "kind": "conduit",
            "token": "opaque-token",
            "conversation_id": C8,
        }
    ),
    sse_event("delta", {"p": "", "o": "add", "v": _doc(_system()), "c": 0}),
    sse_event("delta", {"v": _doc(_F3_USER), "c": 1}),
    sse_event("delta", {"v": _doc(_F3_ASSISTANT), "c": 2}),
    sse_data(
        {
            "type": "message_marker",
            "conversation_id": C8,
            "message_id": A,
            "marker": "user_visible_token",
            "event": "first",
        }
    ),
    sse_event("delta", {"p": "/message/content/parts/0", "o": "append", "v": "Hi"}),
    sse_event("delta", {"v": " there"}),
    sse_data(_TITLE),
    sse_event(
        "delta",
        {
            "p": "",
            "o": "patch",
            "v": [
                {"p": "/message/content/parts/0", "o": "append", "v": "!"},
                {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
                {"p": "/message/end_turn", "o": "replace", "v": True},
                {"p": "/message/metadata", "o": "append", "v": _FINISH},
            ],
        },
    ),
    sse_data(_COMPLETE),
    DONE,
)


# --- F4 .. F8: errors and broken streams ----------------------------------------------------


def _short(
    msg_id: str,
    role: str,
    text: str,
    conversation_id: str,
    *,
    status: str | None = None,
    end_turn: bool | None = None,
    author_extra: bool = False,
    keep_end_turn: bool = True,
) -> dict[str, Any]:
    """A 2023-style short message event (only the fields the fixtures list)."""
    author: dict[str, Any] = {"role": role}
    if author_extra:
        author.update({"name": None, "metadata": {}})
    message: dict[str, Any] = {
        "id": msg_id,
        "author": author,
        "content": {"content_type": "text", "parts": [text]},
    }
    if status is not None:
        message["status"] = status
    if keep_end_turn:
        message["end_turn"] = end_turn
    message["metadata"] = {}
    message["recipient"] = "all"
    return {"message": message, "conversation_id": conversation_id, "error": None}


def _error(conversation_id: str, error: str) -> bytes:
    return sse_data({"message": None, "conversation_id": conversation_id, "error": error})


_F4 = (
    sse_data(_short(A, "assistant", "Partial ans", C4, status="in_progress")),
    _error(C4, "Something went wrong while generating the response."),
    DONE,
)
_F5 = (
    sse_data(_short(U, "user", "Say hi", C8, status="finished_successfully", author_extra=True)),
    _error(
        C8,
        "Our systems have detected unusual activity coming from your system. "
        "Please try again later.",
    ),
    DONE,
)
_F6 = (
    sse_data(
        _short(
            A,
            "assistant",
            "Complete-looking answer.",
            C4,
            status="finished_successfully",
            end_turn=True,
        )
    ),
)
_F7A = (sse_data(_short(A, "assistant", "Cut off mid", C4, status="in_progress")),)
_F7B = (b": ping\n\n",)
_F8 = (
    sse_data(_short(A, "assistant", "ok so far", C4, keep_end_turn=False)),
    b"data: <html>oops</html>\n\n",
    DONE,
)


# --- F9 .. F12 ------------------------------------------------------------------------------

F9_BODIES: dict[str, tuple[int, str, bytes]] = {
    "F9-401": (
        401,
        JSON_CONTENT_TYPE,
        b'{"detail":{"message":"Your authentication token has expired. Please try signing in'
        b' again.","type":"invalid_request_error","param":null,"code":"token_expired"}}',
    ),
    "F9-403": (
        403,
        "text/html; charset=UTF-8",
        b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
        b'<div id="cf-please-wait"></div></body></html>',
    ),
    "F9-404": (
        404,
        JSON_CONTENT_TYPE,
        b'{"detail":{"message":"Conversation not found","code":"conversation_not_found"}}',
    ),
    "F9-413": (
        413,
        JSON_CONTENT_TYPE,
        b'{"detail":{"message":"The message you submitted was too long, please reload the'
        b' conversation and submit something shorter.","code":"message_length_exceeds_limit"}}',
    ),
    "F9-429a": (
        429,
        JSON_CONTENT_TYPE,
        b'{"detail":"Too many requests in 1 hour. Try again later."}',
    ),
    "F9-429b": (
        429,
        JSON_CONTENT_TYPE,
        b'{"detail":"Only one message at a time. Please allow any other responses to complete'
        b' before sending another message, or wait one minute."}',
    ),
    "F9-500": (500, "text/plain", b"Internal Server Error"),
    "F9-502": (
        502,
        "text/html",
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        b"</h1></center><hr><center>cloudflare</center></body></html>",
    ),
}

_F11 = (
    b": keep-alive\r\n\r\n",
    b"event: message\r\n"
    b'data: {"message": {"id": "b1d2c3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",'
    b' "author": {"role": "assistant"},\r\n'
    b'data:  "content": {"content_type": "text", "parts": ["CRLF text"]}},'
    b' "conversation_id": "2f9c1e7a-5b3d-4c8e-9a1f-6d2b7e4c0a13", "error": null}\r\n'
    b"\r\n",
    b"data: [DONE]\r\n\r\n",
)

_MULTIMODAL = {
    "message": {
        "id": A,
        "author": {"role": "assistant"},
        "content": {
            "content_type": "multimodal_text",
            "parts": [
                {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-abc"}
            ],
        },
    },
    "conversation_id": C4,
    "error": None,
}

_UTF8_EVENT = sse_data(_short(A, "assistant", "你好世界", C4, status="finished_successfully"))
_UTF8_SPLIT = _UTF8_EVENT.index("你".encode()) + 1  # inside the first character's 3 bytes

# --- extra faults ---------------------------------------------------------------------------

_HUGE_PIECE = b"x" * (1024 * 1024)
_HUGE_LINE = (
    b'data: {"message": {"id": "' + A.encode() + b'", "author": {"role": "assistant"},'
    b' "content": {"content_type": "text", "parts": ["',
    *([_HUGE_PIECE] * 10),
    b'"]}, "recipient": "all"}, "conversation_id": "' + C4.encode() + b'", "error": null}\n\n',
    DONE,
)

# Deterministic bytes that are not valid UTF-8 (0xff can never appear in UTF-8).
_GARBAGE = tuple(
    b"\xff\xfe" + hashlib.sha256(b"emulator-garbage-%d" % i).digest() for i in range(8)
)


def _slow_drip() -> tuple[bytes, ...]:
    body = b"".join(_F1)
    return tuple(body[i : i + 1] for i in range(len(body)))


def _build() -> dict[str, Fixture]:
    sse = SSE_CONTENT_TYPE
    fx: dict[str, Fixture] = {
        "F1": Fixture(200, sse, _F1, description="legacy 2023, assistant only"),
        "F2": Fixture(200, sse, _F2, description="legacy 2024: system, user echo, typed"),
        "F3": Fixture(200, sse, _F3, description="delta encoding v1"),
        "F4": Fixture(200, sse, _F4, description="error mid-stream"),
        "F5": Fixture(200, sse, _F5, description="user echo then error"),
        "F6": Fixture(200, sse, _F6, description="clean end without [DONE]"),
        "F7a": Fixture(200, sse, _F7A, "reset", description="text then TCP reset"),
        "F7b": Fixture(200, sse, _F7B, "reset", description="comment then TCP reset"),
        "F8": Fixture(200, sse, _F8, description="non-JSON data line"),
    }
    for name, (status, ctype, body) in F9_BODIES.items():
        fx[name] = Fixture(status, ctype, (body,), chunked=False, description="HTTP error")
    fx["F9-503"] = Fixture(
        503,
        JSON_CONTENT_TYPE,
        (b'{"detail":"The server is overloaded. Please try again later."}',),
        headers=MappingProxyType({"Retry-After": "30"}),
        chunked=False,
        description="HTTP error with Retry-After",
    )
    fx["F10"] = Fixture(
        200,
        JSON_CONTENT_TYPE,
        (
            b'{"detail":{"message":"Invalid model","type":"invalid_request_error",'
            b'"param":null,"code":"model_not_found"}}',
        ),
        chunked=False,
        description="200 with a JSON error object",
    )
    fx["F10-weird"] = Fixture(
        200, JSON_CONTENT_TYPE, (b'{"detail":"weird"}',), chunked=False, description="200 JSON"
    )
    fx["F11"] = Fixture(200, sse, _F11, description="CRLF, comments, multi-line data")
    fx["F12-done"] = Fixture(200, sse, (DONE,), description="only [DONE]")
    fx["F12-multimodal"] = Fixture(
        200, sse, (sse_data(_MULTIMODAL), DONE), description="multimodal part"
    )
    fx["F12-wss"] = Fixture(
        200,
        JSON_CONTENT_TYPE,
        (
            b'{"wss_url":"wss://example.invalid/x","conversation_id":"'
            + C4.encode()
            + b'","response_id":"r1"}',
        ),
        chunked=False,
        description="websocket-mode JSON reply",
    )
    fx["F12-utf8"] = Fixture(
        200,
        sse,
        (_UTF8_EVENT[:_UTF8_SPLIT], _UTF8_EVENT[_UTF8_SPLIT:], DONE),
        description="UTF-8 character split across two writes",
    )
    fx["redirect"] = Fixture(
        302,
        None,
        (),
        headers=MappingProxyType({"Location": "/fixtures/F1/backend-api/conversation"}),
        chunked=False,
        description="302 to another emulator URL (relative Location made absolute)",
    )
    fx["redirect-host"] = Fixture(
        307,
        None,
        (),
        headers=MappingProxyType({"Location": "http://127.0.0.2:9/backend-api/conversation"}),
        chunked=False,
        description="307 to another host",
    )
    fx["reset-headers"] = Fixture(
        200, sse, (), "reset-headers", description="TCP reset before the status line"
    )
    fx["huge-line"] = Fixture(200, sse, _HUGE_LINE, description="one 10 MiB data line")
    fx["garbage"] = Fixture(200, sse, _GARBAGE, description="random non-UTF-8 bytes")
    fx["never-ends"] = Fixture(200, sse, (), "never-ends", description="pings forever")
    fx["stall"] = Fixture(200, sse, (), "stall", description="headers, then nothing")
    fx["stall-headers"] = Fixture(200, sse, (), "stall-headers", description="nothing at all")
    fx["slow-drip"] = Fixture(
        200, sse, _slow_drip(), delay_ms=10, description="F1, one byte every 10 ms"
    )
    return fx


#: All fixtures by name (read-only).
FIXTURES: Mapping[str, Fixture] = MappingProxyType(_build())
