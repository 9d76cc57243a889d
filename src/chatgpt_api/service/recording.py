"""Storing a turn when its stream ends: complete, or ``partial`` / ``error`` when it fails.

One transaction per turn (user message(s) + answer), never per token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from chatgpt_api.accounts.pool import PoolUnavailable
from chatgpt_api.errors import AnswerTooLarge, RequestError, ServiceError, UpstreamTimeout
from chatgpt_api.limits.errors import PoolBusy
from chatgpt_api.messages import ChatEvent, Finished, JSONObject, Message, TextDelta, TextReset
from chatgpt_api.service.deadlines import deadline_expired
from chatgpt_api.service.turn import TurnPlan
from chatgpt_api.store import ConversationStore, DuplicateId, NewConversation, NewMessage

log = logging.getLogger("chatgpt_api.service")

#: Refusals that happen before any upstream is contacted: such a turn is not stored.
NOT_STORED: tuple[type[BaseException], ...] = (RequestError, PoolUnavailable, PoolBusy)


class TurnRecorder:
    """Stores the turns of one conversation store."""

    def __init__(self, store: ConversationStore) -> None:
        self._store = store

    async def record(
        self, plan: TurnPlan, events: AsyncGenerator[ChatEvent, None]
    ) -> AsyncGenerator[ChatEvent, None]:
        """Pass ``events`` on; store the turn when it ends, however it ends."""
        started = time.monotonic()
        parts: list[str] = []
        outcome: BaseException | None = None
        finished = False
        async with aclosing(events):
            try:
                async for event in events:
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
                    elif isinstance(event, TextReset):
                        parts[:] = [event.text]
                    else:
                        answer = await self._store_finished(plan, event, started)
                        finished = True
                        yield answer
                        return
                    yield event
            except BaseException as exc:
                outcome = exc
                raise
            finally:
                if not finished:
                    await self._store_failed(plan, "".join(parts), outcome, started)

    async def _store_finished(self, plan: TurnPlan, answer: Finished, started: float) -> Finished:
        latency_ms = int((time.monotonic() - started) * 1000)
        first, *others = answer.all_choices()
        assistant = NewMessage(
            role="assistant",
            content=answer.text,
            model=plan.route.name,
            id=answer.message_id if plan.stateful else None,
            upstream_message_id=answer.message_id,
            usage=answer.usage,
            latency_ms=latency_ms,
            payload=_structured(first.message),
        )
        alternatives = [
            NewMessage(
                role="assistant",
                content=choice.text,
                model=plan.route.name,
                upstream_message_id=answer.message_id,
                latency_ms=latency_ms,
                payload=_structured(choice.message),
            )
            for choice in others
        ]
        conversation_id, message_ids = await self._save(
            plan, assistant, alternatives, upstream_conversation=answer.conversation_id
        )
        return replace(
            answer,
            conversation_id=conversation_id,
            message_id=message_ids[0],
            message_ids=tuple(message_ids),
        )

    async def _store_failed(
        self, plan: TurnPlan, text: str, error: BaseException | None, started: float
    ) -> None:
        if not text and isinstance(error, NOT_STORED):
            return  # refused before anything reached an upstream: there is no turn to keep
        cancelled = error is None or isinstance(error, asyncio.CancelledError | GeneratorExit)
        if cancelled and deadline_expired():
            # Cut off by the deadline: the client is told it timed out, so is the store.
            error, cancelled = UpstreamTimeout(), False
        message = error.message if isinstance(error, ServiceError) else None
        cut_off = cancelled or isinstance(error, AnswerTooLarge)
        assistant = NewMessage(
            role="assistant",
            content=text,
            model=plan.route.name,
            status="partial" if cut_off or text else "error",
            error=message or ("cancelled" if cancelled else "internal error"),
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        try:
            await asyncio.shield(self._save_failed(plan, assistant))
        except Exception:
            log.warning("could not store a failed turn", exc_info=True)

    async def _save_failed(self, plan: TurnPlan, assistant: NewMessage) -> None:
        """Store a failed turn, unless it continued a conversation this service never stored:
        that would leave a phantom conversation under an id the client made up or copied."""
        known = plan.stored_conversation
        if known and not await self._store.conversation_exists(known):
            return
        await self._save(plan, assistant, [], upstream_conversation=None)

    async def _save(
        self,
        plan: TurnPlan,
        assistant: NewMessage,
        alternatives: list[NewMessage],
        *,
        upstream_conversation: str | None,
    ) -> tuple[str, list[str]]:
        """Store the turn; returns the conversation id and the answer ids to give the client
        (``alternatives``, the other choices of the answer, are siblings of ``assistant``).

        Web turns are stored under the upstream's ids so that follow-ups need no mapping. If
        those ids are already taken (a replayed upstream answer, a conversation id owned by
        someone else), the turn is stored under fresh ids, the upstream ids kept beside them.
        """
        try:
            return await self._save_turn(
                plan, assistant, alternatives, upstream_conversation, fresh_ids=False
            )
        except DuplicateId:
            if not plan.stateful:
                raise
            _, ids = await self._save_turn(
                plan, assistant, alternatives, upstream_conversation, fresh_ids=True
            )
            return upstream_conversation or "", [assistant.id or "", *ids[1:]]

    async def _save_turn(
        self,
        plan: TurnPlan,
        assistant: NewMessage,
        alternatives: list[NewMessage],
        upstream_conversation: str | None,
        *,
        fresh_ids: bool,
    ) -> tuple[str, list[str]]:
        keep_ids = plan.stateful and not fresh_ids
        conversation_id = plan.stored_conversation or upstream_conversation
        user_id = plan.request.user_message_id if keep_ids else None
        last = len(plan.new_messages) - 1
        new = [
            NewMessage(
                role=m.role,
                content=m.content,
                id=user_id if i == last else None,
                payload=None if m.raw is None else _structured(m.raw),
            )
            for i, m in enumerate(plan.new_messages)
        ]
        answer = assistant if keep_ids or assistant.id is None else replace(assistant, id=None)
        # One store call, one transaction (batched with other requests' turns on SQLite):
        # append to the owner's conversation, or create it with this turn as its first (under
        # the upstream's id when keeping ids) — a crash or an outage can never leave an empty
        # conversation behind. A parent the conversation does not have (a web conversation
        # started elsewhere: its history is upstream) puts the turn at the root.
        recorded = await self._store.record_turn(
            None if fresh_ids else conversation_id or None,
            owner=plan.owner,
            create=NewConversation(
                backend=plan.route.backend,
                model=plan.route.name,
                title=_title(plan.new_messages),
                upstream_conversation_id=upstream_conversation,
                id=conversation_id if keep_ids else None,
            ),
            parent_id=plan.parent_id or None,
            messages=[*new, answer],
            unknown_parent_is_root=True,
            alternatives=alternatives,
        )
        ids = [recorded.messages[-1].id, *(m.id for m in recorded.alternatives)]
        return recorded.conversation_id, ids


def _structured(message: JSONObject) -> JSONObject | None:
    """The message to keep as a payload: None when role and text say it all."""
    if message.keys() <= {"role", "content"} and isinstance(message.get("content"), str):
        return None
    return message


def _title(messages: tuple[Message, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            text = " ".join(message.content.split())
            return text[:77] + "…" if len(text) > 80 else text
    return "New conversation"
