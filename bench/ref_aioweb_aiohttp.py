"""Reference proxy variant: aiohttp.web server (uvloop), aiohttp client (to compare servers).

``REF_WEB_URL=... REF_MODELS=name=base,... python -m bench.ref_aioweb_aiohttp PORT``
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import uvloop
from aiohttp import web

from bench import ref_common as ref

SESSION = web.AppKey("session", aiohttp.ClientSession)


async def _relay(
    app: web.Application, url: str, body: bytes, headers: dict[str, str], answer: Any
) -> AsyncIterator[bytes]:
    events = ref.Events()
    async with app[SESSION].post(url, data=body, headers=headers) as resp:
        async for chunk in resp.content.iter_any():
            for data in events.feed(chunk):
                frame = answer.feed(data)
                if frame is not None:
                    yield frame


async def _respond(
    request: web.Request,
    frames: AsyncIterator[bytes],
    stream: bool,
    whole: Callable[[], dict[str, Any]],
    head: bytes,
    last: Callable[[], bytes],
) -> web.StreamResponse:
    if not stream:
        async for _ in frames:
            pass
        return web.Response(body=orjson.dumps(whole()), content_type="application/json")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await resp.prepare(request)
    if head:
        await resp.write(head)
    async for frame in frames:
        await resp.write(frame)
    await resp.write(last())
    await resp.write_eof()
    return resp


async def send_message(request: web.Request) -> web.StreamResponse:
    f = ref.fields(await request.read(), request.headers.get("Content-Type", ""))
    url, body, headers, stream = ref.web_request(f)
    answer = ref.WebAnswer()
    frames = _relay(request.app, url, body, headers, answer)

    def last() -> bytes:
        return b"data: " + orjson.dumps(answer.result()) + b"\n\n" + ref.DONE

    return await _respond(request, frames, stream, answer.result, b"", last)


async def chat(request: web.Request) -> web.StreamResponse:
    auth = request.headers.get("Authorization", "")
    url, body, headers, stream, model = ref.chat_request(await request.read(), auth)
    answer = ref.ChatAnswer(model)
    frames = _relay(request.app, url, body, headers, answer)
    head = answer.chunk({"role": "assistant", "content": ""})

    def last() -> bytes:
        return answer.chunk({}, "stop") + ref.DONE

    return await _respond(request, frames, stream, answer.completion, head, last)


async def _session(app: web.Application) -> AsyncIterator[None]:
    app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    yield
    await app[SESSION].close()


def main() -> None:
    app = web.Application()
    app.router.add_post("/send_message", send_message)
    app.router.add_post("/v1/chat/completions", chat)
    app.cleanup_ctx.append(_session)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
