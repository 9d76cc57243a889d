"""Reference proxy: Starlette on uvicorn (uvloop + httptools), aiohttp client. Our target's floor.

``REF_WEB_URL=... REF_MODELS=name=base,... uvicorn bench.ref_starlette_aiohttp:app``
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bench import ref_common as ref

SESSION: dict[str, aiohttp.ClientSession] = {}


class Raw:
    """A minimal ASGI response: status, headers, then each body part as it comes."""

    def __init__(self, headers: list[tuple[bytes, bytes]], parts: AsyncIterator[bytes]) -> None:
        self.headers, self.parts = headers, parts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        async for part in self.parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def _relay(
    url: str, body: bytes, headers: dict[str, str], answer: Any
) -> AsyncIterator[bytes]:
    events = ref.Events()
    async with SESSION["s"].post(url, data=body, headers=headers) as resp:
        async for chunk in resp.content.iter_any():
            for data in events.feed(chunk):
                frame = answer.feed(data)
                if frame is not None:
                    yield frame


Relay = Callable[[str, bytes, dict[str, str], Any], AsyncIterator[bytes]]


async def send_message(request: Request, relay: Relay) -> Raw:
    f = ref.fields(await request.body(), request.headers.get("content-type", ""))
    url, body, headers, stream = ref.web_request(f)
    answer = ref.WebAnswer()
    frames = relay(url, body, headers, answer)
    if stream:
        return Raw(ref.SSE_HEADERS, _stream_seed(frames, answer))
    async for _ in frames:
        pass
    return Raw(ref.JSON_HEADERS, _once(orjson.dumps(answer.result())))


async def _stream_seed(frames: AsyncIterator[bytes], answer: ref.WebAnswer) -> AsyncIterator[bytes]:
    async for frame in frames:
        yield frame
    yield b"data: " + orjson.dumps(answer.result()) + b"\n\n" + ref.DONE


async def chat(request: Request, relay: Relay) -> Raw:
    auth = request.headers.get("authorization", "")
    url, body, headers, stream, model = ref.chat_request(await request.body(), auth)
    answer = ref.ChatAnswer(model)
    frames = relay(url, body, headers, answer)
    if stream:
        return Raw(ref.SSE_HEADERS, _stream_chat(frames, answer))
    async for _ in frames:
        pass
    return Raw(ref.JSON_HEADERS, _once(orjson.dumps(answer.completion())))


async def _stream_chat(
    frames: AsyncIterator[bytes], answer: ref.ChatAnswer
) -> AsyncIterator[bytes]:
    yield answer.chunk({"role": "assistant", "content": ""})
    async for frame in frames:
        yield frame
    yield answer.chunk({}, "stop") + ref.DONE


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    SESSION["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    yield
    await SESSION["s"].close()


def make_app(relay: Relay, lifespan: Callable[[Starlette], Any]) -> Starlette:
    """The two routes, with ``relay`` doing the upstream request."""

    async def send_route(request: Request) -> Raw:
        return await send_message(request, relay)

    async def chat_route(request: Request) -> Raw:
        return await chat(request, relay)

    return Starlette(
        routes=[
            Route("/send_message", send_route, methods=["POST"]),
            Route("/v1/chat/completions", chat_route, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


app = make_app(_relay, lifespan)
