"""The one turn runner every surface uses: admit, open the turn, read it under a deadline.

:func:`run_turn` charges the caller's limits (:func:`~chatgpt_api.api.admission.admit`), opens
the turn on the service (cancelled if the client leaves meanwhile), releases the charge if that
fails, and holds it while the answer streams. It then either waits for the first event (a
stream: the route formats the rest) or collects the whole answer. A route only parses its input
and formats the :class:`RunningTurn` in its own shapes. The CLI's in-process client runs its
turns here too, without an HTTP request (no limits to charge, no client to watch).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.requests import HTTPConnection, Request

from chatgpt_api.api.admission import admit
from chatgpt_api.api.disconnect import DisconnectWatch
from chatgpt_api.api.errors import ClientDisconnected
from chatgpt_api.api.request_limits import check_request_size
from chatgpt_api.api.state import AppState
from chatgpt_api.keys.gate import Caller
from chatgpt_api.messages import ChatEvent, Finished
from chatgpt_api.observability.context import note_first_token
from chatgpt_api.registry import ModelRoute
from chatgpt_api.service import TurnInput, collect_answer, next_event


@dataclass(slots=True)
class RunningTurn:
    """A streamed turn: its first event and the rest (``answer`` is None)."""

    first: ChatEvent | None
    events: AsyncGenerator[ChatEvent, None]
    route: ModelRoute
    #: The whole answer, for a turn that was not streamed.
    answer: Finished | None = None


async def run_turn(
    state: AppState,
    turn: TurnInput,
    *,
    stream: bool,
    deadline: float | None,
    request: HTTPConnection | None = None,
    caller: Caller | None = None,
) -> RunningTurn:
    """Admit and open ``turn``; wait for its first event (``stream``) or its whole answer.

    With an HTTP ``request`` (and its ``caller``), the caller's limits are charged and the
    client leaving cancels the turn; with a WebSocket, the limits are charged and the socket's
    owner cancels the turn when the client leaves.
    """
    settings = state.settings
    check_request_size(
        turn.messages,
        most_messages=settings.max_request_messages,
        most_chars=settings.max_request_chars,
    )
    admission = None
    if request is not None and caller is not None:
        chars = sum(len(m.content) for m in turn.messages)
        admission = await admit(state, request, caller, chars)
    # A WebSocket's messages are its owner's to read: only an HTTP request is watched here,
    # by one watcher for the whole turn (opening it, then its first event or whole answer).
    watch = DisconnectWatch(request.receive) if isinstance(request, Request) else None
    try:
        try:
            opened = await state.service.open_turn(turn)
        except BaseException:
            if admission is not None:
                await admission.release()
            raise
        events = opened.events if admission is None else admission.wrap(opened.events)
        if stream:
            first = await next_event(events, deadline)
            note_first_token(stream=True)
            return RunningTurn(first, events, opened.route)
        answer = await collect_answer(events, deadline)
    except asyncio.CancelledError:
        if watch is not None and watch.was_cancelled_by_disconnect():
            raise ClientDisconnected() from None
        raise
    finally:
        if watch is not None:
            watch.stop()
    note_first_token(stream=False)
    return RunningTurn(None, events, opened.route, answer)
