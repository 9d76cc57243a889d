"""What every bare reference proxy does, and nothing else: the speed of light.

Request in (JSON or form), upstream body out, upstream SSE events in, seed or OpenAI frames out.
Each reference server (``ref_*.py``) only wires this to one HTTP server and one HTTP client, so
that comparing them measures the server and the client alone.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson

WEB_URL = os.environ.get("REF_WEB_URL", "")
#: ``name=base_url,...``: where each model's OpenAI-style upstream is.
MODELS = dict(
    item.split("=", 1) for item in os.environ.get("REF_MODELS", "").split(",") if "=" in item
)
UPSTREAM_MODEL = "gpt-4o-mini"
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")]
JSON_HEADERS = [(b"content-type", b"application/json")]


def fields(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        parsed: dict[str, Any] = orjson.loads(body)
        return parsed
    return dict(parse_qsl(body.decode()))


def web_request(f: dict[str, Any]) -> tuple[str, bytes, dict[str, str], bool]:
    """``/send_message`` fields → (url, body, headers, stream)."""
    body = {
        "action": "next",
        "messages": [
            {
                "id": str(uuid.uuid4()),
                "author": {"role": "user"},
                "role": "user",
                "content": {"content_type": "text", "parts": [f["prompt"]]},
            }
        ],
        "model": "gpt-3.5-turbo",
        "parent_message_id": str(uuid.uuid4()),
    }
    headers = {"Authorization": f"Bearer {f['access_token']}", "Content-Type": "application/json"}
    stream = str(f.get("stream", "")).lower() == "true"
    return f.get("reverse_proxy") or WEB_URL, orjson.dumps(body), headers, stream


def chat_request(body: bytes, auth: str) -> tuple[str, bytes, dict[str, str], bool, str]:
    """``/v1/chat/completions`` body → (url, upstream body, headers, stream, model)."""
    req = orjson.loads(body)
    upstream = {"model": UPSTREAM_MODEL, "messages": req["messages"], "stream": True}
    headers = {"Authorization": auth or "Bearer x", "Content-Type": "application/json"}
    url = MODELS[req["model"]] + "/chat/completions"
    return url, orjson.dumps(upstream), headers, bool(req.get("stream")), req["model"]


class Events:
    """Splits upstream bytes into SSE ``data`` payloads."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self.buffer += chunk
        *events, self.buffer = self.buffer.split(b"\n\n")
        for event in events:
            if event.startswith(b"data: "):
                yield event[6:]


class WebAnswer:
    """Turns ChatGPT web events into the seed's frames."""

    def __init__(self) -> None:
        self.text = ""
        self.message_id = ""
        self.conversation_id = ""

    def feed(self, data: bytes) -> bytes | None:
        if data == b"[DONE]":
            return None
        event = orjson.loads(data)
        message = event.get("message")
        if not message or message["author"]["role"] != "assistant":
            return None
        text = message["content"]["parts"][0]
        self.message_id, self.conversation_id = message["id"], event["conversation_id"]
        delta, self.text = text[len(self.text) :], text
        return b"data: " + orjson.dumps({"delta": delta}) + b"\n\n" if delta else None

    def result(self) -> dict[str, str]:
        return {
            "text": self.text,
            "conversation_id": self.conversation_id,
            "parent_message_id": self.message_id,
        }


class ChatAnswer:
    """Turns OpenAI chunks into our own chunks (new id) and a completion."""

    def __init__(self, model: str) -> None:
        self.id, self.created, self.model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model
        self.parts: list[str] = []

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created}
        return b"data: " + orjson.dumps({**obj, "model": self.model, "choices": [choice]}) + b"\n\n"

    def feed(self, data: bytes) -> bytes | None:
        if data == b"[DONE]":
            return None
        choices = orjson.loads(data).get("choices") or [{}]
        content = choices[0].get("delta", {}).get("content")
        if not content:
            return None
        self.parts.append(content)
        return self.chunk({"content": content})

    def completion(self) -> dict[str, Any]:
        message = {"role": "assistant", "content": "".join(self.parts)}
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
