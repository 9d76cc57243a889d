"""The upstream emulator: a real HTTP server playing the ChatGPT web backend and auth services.

The conversation routes (``/backend-api/conversation`` and its aliases) serve the demo backend
(:mod:`.demo`) or, with ``X-Emulator-Fixture: <name>`` or under ``/fixtures/<name>/``, a canned
fixture (:mod:`.fixtures`). Beside them: the fake auth services (:mod:`.auth`), an OpenAI-style
API (:mod:`.openai_emulator`), the web file upload flow (:mod:`.web_files`) and
``/_emulator/requests`` (the recorded requests). ``X-Emulator-Delay-Ms`` and
``X-Emulator-Stall-Ms`` slow a reply down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web

from .auth import auth_broken, auth_nomessage, auth_service, make_fake_jwt, session
from .demo import DemoBackend
from .fixtures import F9_BODIES, FIXTURES, Fixture
from .openai_emulator import add_openai_routes
from .options import EmulatorOptions
from .recording import RecordedRequest, RequestLog, parse_json_body
from .web_files import FileStore, add_file_routes, describe, owner_of
from .wire import (
    DELAY_HEADER,
    EXCHANGE,
    FIXTURE_HEADER,
    MAX_STALL_SECONDS,
    PING_INTERVAL_SECONDS,
    STALL_HEADER,
    BadHeader,
    Exchange,
    header_seconds,
    json_response,
    raw_response,
    reset_connection,
    start_stream,
    write_chunks,
)

__all__ = [
    "DELAY_HEADER",
    "FIXTURE_HEADER",
    "STALL_HEADER",
    "STATE",
    "Emulator",
    "EmulatorOptions",
    "EmulatorState",
    "RecordedRequest",
    "create_emulator_app",
    "make_fake_jwt",
]

_MISSING_TOKEN = b'{"detail":{"message":"Unauthorized - Access token is missing"}}'
_CONVERSATION_PATHS = ("/backend-api/conversation", "/api/conversation", "/conversation")


@dataclass(eq=False)
class EmulatorState:
    """Everything an emulator app keeps between requests."""

    options: EmulatorOptions
    log: RequestLog = field(default_factory=RequestLog)
    demo: DemoBackend = field(init=False)
    #: The emulated files service of the web upload flow (:mod:`.web_files`).
    files: FileStore = field(default_factory=FileStore)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    stopping: bool = False

    def __post_init__(self) -> None:
        self.demo = DemoBackend(self.options.chunks, state_file=self.options.demo_state_file)


STATE = web.AppKey("chatgpt_api.emulator.state", EmulatorState)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------- helpers

# The plumbing lives in .wire (shared with the OpenAI routes); the old private names stay.
_json = json_response
_raw = raw_response
_BadHeader = BadHeader
_header_seconds = header_seconds
_reset = reset_connection
_write_chunks = write_chunks
_start_stream = start_stream
_EXCHANGE = EXCHANGE
_Exchange = Exchange


def _record_headers(request: web.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        low = key.lower()
        headers[low] = f"{headers[low]}, {value}" if low in headers else value
    return headers


# --------------------------------------------------------------------------- middleware


@web.middleware
async def _recording_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    if request.path.startswith("/_emulator/"):
        return await handler(request)
    state = request.app[STATE]
    body = await request.read()
    record = RecordedRequest(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        headers=_record_headers(request),
        body=body,
        json=parse_json_body(body),
        received_at=time.monotonic(),
    )
    exchange = _Exchange(record)
    token = _EXCHANGE.set(exchange)
    state.log.add(record)
    task = asyncio.current_task()
    if task is not None:
        state.tasks.add(task)
    went_away = False
    try:
        return await handler(request)
    except asyncio.CancelledError:
        went_away = not state.stopping
        raise
    except ConnectionError:
        # A write failed because the client closed the connection.
        went_away = True
        if exchange.response is None:
            raise
        return exchange.response  # prepared: aiohttp notices the closed transport, moves on
    finally:
        _EXCHANGE.reset(token)
        if task is not None:
            state.tasks.discard(task)
        state.log.finish(record, went_away=went_away)


# --------------------------------------------------------------------------- handlers


async def _serve_fixture(
    request: web.Request, name: str, fixture: Fixture, delay: float, stall: float
) -> web.StreamResponse:
    exchange = _EXCHANGE.get()
    if exchange is not None:
        exchange.record.fixture = name
    if fixture.ending == "stall-headers":
        await asyncio.sleep(MAX_STALL_SECONDS)
        return _json(504, {"detail": "emulator stall limit reached"})
    if stall > 0:
        await asyncio.sleep(stall)
    if fixture.ending == "reset-headers":
        await _reset(request)
        return web.Response()  # never sent: the transport is gone
    headers = dict(fixture.headers)
    location = headers.get("Location")
    if location is not None and location.startswith("/"):
        headers["Location"] = str(request.url.origin()) + location
    resp = await _start_stream(
        request,
        fixture.status,
        fixture.content_type,
        chunked=fixture.chunked,
        length=len(fixture.body) if not fixture.chunked else 0,
        headers=headers,
    )
    await _write_chunks(resp, fixture.chunks, delay + fixture.delay_ms / 1000.0)
    if fixture.ending == "reset":
        await _reset(request)
        return resp
    if fixture.ending == "stall":
        await asyncio.sleep(MAX_STALL_SECONDS)
    elif fixture.ending == "never-ends":
        deadline = time.monotonic() + MAX_STALL_SECONDS
        while time.monotonic() < deadline:
            await resp.write(b": ping\n\n")
            await asyncio.sleep(PING_INTERVAL_SECONDS)
    await resp.write_eof()
    return resp


def _check_auth(request: web.Request) -> web.Response | None:
    """No bearer token → 401; a token ``expired`` (or ending in ``.expired``) → the F9 401
    token_expired reply; ``rate-limited`` (or ending in ``.rate-limited``) → the F9 429 reply
    with ``Retry-After: 30``."""
    auth = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _raw(401, "application/json", _MISSING_TOKEN)
    if token == "expired" or token.endswith(".expired"):
        status, content_type, body = F9_BODIES["F9-401"]
        return _raw(status, content_type, body)
    if token == "rate-limited" or token.endswith(".rate-limited"):
        status, content_type, body = F9_BODIES["F9-429a"]
        response = _raw(status, content_type, body)
        response.headers["Retry-After"] = "30"
        return response
    return None


async def conversation(request: web.Request) -> web.StreamResponse:
    """A conversation turn: a fixture when one is named, else the demo backend."""
    state = request.app[STATE]
    options = state.options
    name = request.match_info.get("name") or request.headers.get(FIXTURE_HEADER)
    try:
        delay = _header_seconds(request, DELAY_HEADER)
        stall = _header_seconds(request, STALL_HEADER)
    except _BadHeader as exc:
        return _json(400, {"detail": str(exc)})
    if name:
        fixture = FIXTURES.get(name)
        if fixture is None:
            return _json(400, {"detail": f"Unknown fixture {name!r}", "fixtures": list(FIXTURES)})
        delay += options.delay_ms_between_fixture_chunks / 1000.0
        return await _serve_fixture(request, name, fixture, delay, stall)
    if stall > 0:
        await asyncio.sleep(stall)
    if options.require_auth:
        denied = _check_auth(request)
        if denied is not None:
            return denied
    body = await request.read()
    referenced = state.files.referenced(_json_object(body), owner_of(request))
    if isinstance(referenced, str):
        return _json(400, {"detail": {"message": referenced, "code": "file_not_found"}})
    reply = state.demo.handle(body, seen=describe(referenced))
    if reply.status != 200:
        return _raw(reply.status, reply.content_type, b"".join(reply.chunks))
    resp = await _start_stream(request, reply.status, reply.content_type, chunked=True)
    await _write_chunks(resp, reply.chunks, delay or options.chunk_delay_ms / 1000.0)
    await resp.write_eof()
    return resp


def _json_object(body: bytes) -> dict[str, Any]:
    parsed = parse_json_body(body)
    return parsed if isinstance(parsed, dict) else {}


async def _list_requests(request: web.Request) -> web.Response:
    return _json(200, [r.to_json() for r in request.app[STATE].log.snapshot()])


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[STATE].log.clear()
    return _json(200, {"cleared": True})


async def _forget_files(request: web.Request) -> web.Response:
    """The files service forgets every file (as when uploads expire upstream)."""
    request.app[STATE].files.files.clear()
    return _json(200, {"cleared": True})


async def _list_fixtures(request: web.Request) -> web.Response:
    return _json(
        200,
        {
            name: {"status": f.status, "ending": f.ending, "description": f.description}
            for name, f in FIXTURES.items()
        },
    )


def create_emulator_app(options: EmulatorOptions | None = None) -> web.Application:
    """A new emulator application (its state is ``app[STATE]``)."""
    app = web.Application(middlewares=[_recording_middleware], client_max_size=64 * 1024 * 1024)
    app[STATE] = EmulatorState(options or EmulatorOptions())
    for path in _CONVERSATION_PATHS:
        app.router.add_post(path, conversation)
    app.router.add_post("/upload-faults/{fault}/backend-api/conversation", conversation)
    add_file_routes(app)
    app.router.add_route("*", "/fixtures/{name}", conversation)
    app.router.add_route("*", "/fixtures/{name}/{tail:.*}", conversation)
    app.router.add_get("/api/auth/session", session)
    for path in ("/api", "/auth"):
        app.router.add_post(path, auth_service)
    app.router.add_route("*", "/api-broken", auth_broken)
    app.router.add_route("*", "/api-nomessage", auth_nomessage)
    app.router.add_get("/_emulator/requests", _list_requests)
    app.router.add_delete("/_emulator/requests", _clear_requests)
    app.router.add_get("/_emulator/fixtures", _list_fixtures)
    app.router.add_delete("/_emulator/files", _forget_files)
    add_openai_routes(app, app[STATE].options)
    return app


class Emulator:
    """Runs an emulator app on the current event loop.

    >>> emu = Emulator()
    >>> url = await emu.start()          # doctest: +SKIP
    >>> ...                              # point the client at f"{url}/backend-api/conversation"
    >>> await emu.stop()                 # doctest: +SKIP
    """

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        self.options = options or EmulatorOptions()
        self.app = create_emulator_app(self.options)
        self._state = self.app[STATE]
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT`` (only once started)."""
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    @property
    def state(self) -> EmulatorState:
        return self._state

    @property
    def log(self) -> RequestLog:
        return self._state.log

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first."""
        return self._state.log.snapshot()

    def clear(self) -> None:
        """Forget the recorded requests."""
        self._state.log.clear()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start listening; returns the base URL."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._state.stopping = False
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        """Stop listening and cancel every request still being served."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._state.stopping = True
        for task in list(self._state.tasks):
            task.cancel()
        await runner.cleanup()
        self._url = None

    async def wait_until_closed(self, index: int, seconds: float = 2.0) -> bool:
        """Wait up to ``seconds`` until request number ``index`` has ended; False on timeout."""
        deadline = time.monotonic() + seconds
        while not self._state.log.is_closed(index):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
