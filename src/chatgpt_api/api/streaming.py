"""Server-Sent Events responses, and the seed route's stream format.

:class:`EventStreamResponse` is a Starlette response that sends each chunk as soon as it is
produced and cancels the producer (and the upstream request) when the client disconnects.
The seed stream is ``data: {"delta": ...}`` events (``"replace": true`` when the upstream
rewrote the answer), then the seed response object, then ``data: [DONE]``. A failure after
the stream began, or a cut-off at shutdown, is one ``event: error`` frame with
``{"message": ...}`` (plus the partial ``text`` when the upstream was cut off), then the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chatgpt_api.api.disconnect import DisconnectWatch
from chatgpt_api.api.errors import seed_error_body
from chatgpt_api.api.graceful_shutdown import end_cut_off_stream, swallow_cancellation
from chatgpt_api.messages import ChatEvent, Finished, TextDelta
from chatgpt_api.service import next_event

DONE_FRAME = b"data: [DONE]\n\n"
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStreamResponse(Response):
    """Streams ``frames`` as ``text/event-stream``; stops them if the client goes away.

    ``headers``: more response headers (names in lower case).
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncGenerator[bytes, None],
        cut_off_frame: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # Response.__init__ is not called: there is no body to render or measure.
        self.status_code = 200
        self.background = None
        self.raw_headers = list(_HEADERS)
        if headers:
            self.raw_headers += [
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
        self._frames = frames
        #: Sent when the server cancels the stream at shutdown (see :mod:`.graceful_shutdown`).
        self._cut_off_frame = cut_off_frame

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        watch = DisconnectWatch(receive)
        try:
            async with aclosing(self._frames) as frames:
                async for frame in frames:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            watch.finished = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if watch.was_cancelled_by_disconnect():
                return
            if self._cut_off_frame is None:
                raise
            # The shutdown grace period is over: the turn was stored as partial on the way
            # out; end the stream properly, then let the task finish on its own.
            swallow_cancellation()
            await end_cut_off_stream(send, self._cut_off_frame)
        except OSError:
            pass  # the client went away while we were writing
        finally:
            watch.stop()


def seed_frame(obj: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def seed_answer_object(answer: Finished) -> dict[str, str]:
    """The seed's success body: keys ``text, conversation_id, parent_message_id``."""
    if answer.conversation_id is None:
        return {"text": answer.text, "parent_message_id": answer.message_id}
    return {
        "text": answer.text,
        "conversation_id": answer.conversation_id,
        "parent_message_id": answer.message_id,
    }


async def seed_frames(
    first: ChatEvent, events: AsyncGenerator[ChatEvent, None], deadline: float | None
) -> AsyncGenerator[bytes, None]:
    """The seed stream's frames, starting from an already received first event."""
    async with aclosing(events):
        event = first
        try:
            while not isinstance(event, Finished):
                if isinstance(event, TextDelta):
                    yield seed_frame({"delta": event.text})
                else:
                    yield seed_frame({"delta": event.text, "replace": True})
                event = await next_event(events, deadline)
        except Exception as exc:
            yield seed_frame(seed_error_body(exc), "error")
            return
        yield seed_frame(seed_answer_object(event))
        yield DONE_FRAME
