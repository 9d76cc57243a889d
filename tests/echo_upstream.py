"""An upstream that quotes the request's credential back in its errors (the leaked-secret test).

Served by aiohttp on 127.0.0.1 in a background thread. The first path segment picks the reply;
every reply quotes the bearer credential it received and an unrelated JWT-shaped token:

* ``web-stream-error``: a ChatGPT web event stream with some answer text, then an ``error``
  event;
* ``web-json-error``: a 2xx JSON body (``{"detail": ...}``) where a stream was expected;
* ``web-status-error``: a 401 whose body quotes the token;
* ``openai-stream-error``: an OpenAI event stream with a delta, then an ``error`` chunk (whose
  ``code`` quotes the key too);
* ``openai-json-error``: a 2xx JSON ``{"error": {...}}`` reply;
* ``openai-status-error``: a 401 ``{"error": {...}}`` as OpenAI answers a wrong key.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import web

from chatgpt_api.testing import make_fake_jwt

#: A JWT-shaped token no request carries: only the generic patterns can mask it.
QUOTED_JWT = make_fake_jwt(int(time.time()) + 3600)

WEB_MODES = ("web-stream-error", "web-json-error", "web-status-error")
OPENAI_MODES = ("openai-stream-error", "openai-json-error", "openai-status-error")


def _sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def _reply(request: web.Request) -> web.StreamResponse:
    await request.read()
    credential = request.headers.get("Authorization", "").partition(" ")[2]
    quoted = f"the credential {credential} was refused (see also {QUOTED_JWT})"
    mode = request.match_info["mode"]
    if mode.endswith("status-error"):
        body = {"detail": quoted} if mode.startswith("web") else {"error": {"message": quoted}}
        return web.json_response(body, status=401)
    if mode == "web-json-error":
        return web.json_response({"detail": quoted})
    if mode == "openai-json-error":
        return web.json_response({"error": {"message": quoted, "code": credential}})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if mode == "web-stream-error":
        message = {
            "id": "answer-1",
            "author": {"role": "assistant"},
            "content": {"content_type": "text", "parts": ["Half an"]},
        }
        await response.write(_sse({"message": message, "conversation_id": "c-1", "error": None}))
        await response.write(_sse({"message": None, "error": quoted}))
    else:
        await response.write(_sse({"id": "x", "choices": [{"delta": {"content": "Half an"}}]}))
        await response.write(_sse({"error": {"message": quoted, "code": credential}}))
    await response.write_eof()
    return response


class EchoUpstream:
    """``with EchoUpstream() as echo: echo.url + "/web-stream-error/..."``."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __enter__(self) -> EchoUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{mode}/{tail:.*}", _reply)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def __exit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
