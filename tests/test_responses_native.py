"""``responses = "native"`` routes: ``POST /v1/responses`` forwarded to an upstream that serves
the Responses API (a scripted one on 127.0.0.1), body and answer unchanged but for the model —
reasoning items and encrypted content included, events relayed as they came."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from aiohttp import web

from chatgpt_api.errors import ConfigurationError
from chatgpt_api.registry import ModelRegistry
from tests.scripted_upstream import LoopbackServer
from tests.servers import ServiceThread

REASONING = {
    "id": "rs_up1",
    "type": "reasoning",
    "summary": [],
    "encrypted_content": "gAAAAB-opaque-blob",
}
ANSWER = {
    "id": "resp_up1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "up-model-2026",
    "output": [
        REASONING,
        {
            "id": "msg_up1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Native hello", "annotations": []}],
        },
    ],
    "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
}
STREAM = (
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
    b'"response":{"id":"resp_up2","object":"response","status":"in_progress","output":[]}}\n\n'
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
    b'"sequence_number":1,"item_id":"msg_up2","output_index":0,"content_index":0,'
    b'"delta":"Hi","obfuscation":"xy"}\n\n'
    b'event: response.completed\ndata: {"type":"response.completed","sequence_number":2,'
    b'"response":{"id":"resp_up2","object":"response","status":"completed","output":[]}}\n\n'
)


class ResponsesUpstream(LoopbackServer):
    """Answers ``POST /v1/responses`` with the next scripted reply; records what it got."""

    def __init__(self) -> None:
        super().__init__()
        #: ``(status, content type, body)``
        self.replies: deque[tuple[int, str, bytes]] = deque()
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.paths: list[str] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/responses/compact", self._responses)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        self.requests.append((dict(request.headers), orjson.loads(await request.read())))
        status, content_type, body = self.replies.popleft()
        if content_type != "text/event-stream":
            return web.Response(status=status, body=body, content_type=content_type)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        for part in body.split(b"\n\n")[:-1]:
            await response.write(part + b"\n\n")
            await asyncio.sleep(0.01)
        return response


@pytest.fixture(scope="module")
def upstream() -> Iterator[ResponsesUpstream]:
    with ResponsesUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream: ResponsesUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("native")
    (home / "models.toml").write_text(
        f"""
[models."reasoner"]
backend = "openai-compatible"
base_url = "{upstream.url}/v1"
upstream_model = "up-model-2026"
api_key = "sk-upstream"
responses = "native"
"""
    )
    with ServiceThread(
        models_file=home / "models.toml", database_url=f"sqlite+aiosqlite:///{home}/s.db"
    ) as svc:
        yield f"{svc.url}/v1"


def test_whole_answer_and_body_pass_unchanged_but_for_the_model(
    gateway: str, upstream: ResponsesUpstream
) -> None:
    upstream.replies.append((200, "application/json", orjson.dumps(ANSWER)))
    request = {
        "model": "reasoner",
        "input": [
            {"role": "user", "content": "Think first"},
            REASONING,
            {"type": "message", "role": "assistant", "content": "Earlier answer"},
            {"role": "user", "content": "Again"},
        ],
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"effort": "high", "summary": "auto"},
        "previous_response_id": "resp_upstream_own",
        "store": False,
    }
    extra = {"some_new_field": {"kept": True}}
    with openai.OpenAI(base_url=gateway, api_key="client-key", max_retries=0) as client:
        response = client.responses.create(**request, extra_body=extra)  # type: ignore[call-overload]
    assert response.model_dump(mode="json", exclude_unset=True) == ANSWER
    headers, sent = upstream.requests[-1]
    assert sent == {**request, **extra, "model": "up-model-2026"}
    assert headers["Authorization"] == "Bearer sk-upstream"


def test_events_are_relayed_as_they_came(gateway: str, upstream: ResponsesUpstream) -> None:
    upstream.replies.append((200, "text/event-stream", STREAM))
    body = {"model": "reasoner", "input": "Hi", "stream": True}
    with httpx.stream("POST", f"{gateway}/responses", json=body) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        relayed = reply.read()
    assert relayed == STREAM
    assert upstream.requests[-1][1] == {**body, "model": "up-model-2026"}


def test_upstream_errors_keep_status_and_message(gateway: str, upstream: ResponsesUpstream) -> None:
    error = {
        "error": {
            "message": "Unknown parameter: 'bogus'.",
            "type": "invalid_request_error",
            "param": "bogus",
            "code": "unknown_parameter",
        }
    }
    upstream.replies.append((400, "application/json", orjson.dumps(error)))
    reply = httpx.post(f"{gateway}/responses", json={"model": "reasoner", "input": "x", "bogus": 1})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == "Unknown parameter: 'bogus'."
    assert reply.json()["error"]["code"] == "unknown_parameter"


def test_compact_is_forwarded_too(gateway: str, upstream: ResponsesUpstream) -> None:
    compacted = {
        "id": "resp_c",
        "object": "response.compaction",
        "created_at": 1,
        "output": [{"type": "compaction", "id": "cmp_up", "encrypted_content": "opaque"}],
        "usage": {"input_tokens": 9, "output_tokens": 1, "total_tokens": 10},
    }
    upstream.replies.append((200, "application/json", orjson.dumps(compacted)))
    body = {"model": "reasoner", "previous_response_id": "resp_up1"}
    reply = httpx.post(f"{gateway}/responses/compact", json=body)
    assert reply.json() == compacted
    assert upstream.paths[-1] == "/v1/responses/compact"
    assert upstream.requests[-1][1] == {**body, "model": "up-model-2026"}


def test_native_needs_an_openai_style_backend(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[models."web"]\nbackend = "chatgpt-web"\nresponses = "native"\n')
    with pytest.raises(ConfigurationError, match="native"):
        ModelRegistry.from_file(models)
