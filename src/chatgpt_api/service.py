"""The conversation use-case: route a turn to its backend, keep the tree, read under a deadline.

:meth:`ChatService.open_turn` resolves the model through the registry, builds the upstream
request and returns a :class:`Turn` whose ``events`` stream is the backend's, wrapped so that
the turn is stored when it ends — complete, or ``partial`` / ``error`` when the stream fails or
the client goes away — in one transaction (user message(s) + answer), never per token.

Ids. On the ChatGPT web backend the upstream keeps the conversation, so our ids *are* the
upstream's (a follow-up with ids from elsewhere still works). On stateless backends the ids are
ours: a follow-up loads the path root → parent from the store and sends it as history, within
the configured budget. The final event carries the ids to use for the next turn.

Deadlines are absolute ``loop.time()`` values covering the whole exchange; on expiry the
upstream request is cancelled (closing its connection) and ``UpstreamTimeout`` is raised.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

from chatgpt_api.accounts.pool import AccountPool, PoolUnavailable
from chatgpt_api.backends.base import Backend
from chatgpt_api.backends.pool import BackendPool
from chatgpt_api.capabilities import check_web_request
from chatgpt_api.errors import (
    AnswerTooLarge,
    AuthenticationError,
    NotFound,
    RequestError,
    ServiceError,
    UpstreamConnectError,
    UpstreamNoAnswer,
    UpstreamNotConfigured,
    UpstreamStatusError,
    UpstreamTimeout,
)
from chatgpt_api.header_values import check_header_credential
from chatgpt_api.history import fold_transcript, follow_up_messages, trim_history
from chatgpt_api.limits.errors import PoolBusy
from chatgpt_api.messages import (
    ChatEvent,
    ChatRequest,
    Finished,
    GenerationParams,
    JSONObject,
    Message,
    TextDelta,
    TextReset,
)
from chatgpt_api.observability.context import note_route
from chatgpt_api.registry import ModelRegistry, ModelRoute
from chatgpt_api.store import (
    ConversationStore,
    DuplicateId,
    NewConversation,
    NewMessage,
    StoredMessage,
)
from chatgpt_api.store.attachments import references, resolve
from chatgpt_api.tree_root import ROOT_PARENT, upstream_root_for, upstream_root_of
from chatgpt_api.web_media import with_media

log = logging.getLogger("chatgpt_api.service")

#: Seconds during which a successful store ping is trusted (the fail-fast check of new turns).
STORE_CHECK_INTERVAL = 1.0

#: Refusals that happen before any upstream is contacted: such a turn is not stored.
NOT_STORED: tuple[type[BaseException], ...] = (RequestError, PoolUnavailable, PoolBusy)

#: Accounts tried for one turn before giving up (failover happens only before the first byte).
MAX_POOL_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class TurnInput:
    """What a client asked for, whatever the surface."""

    model: str
    #: New messages when continuing a stored conversation; otherwise the whole history.
    messages: tuple[Message, ...]
    credential: str | None = None
    conversation_id: str | None = None
    parent_message_id: str | None = None
    upstream_url: str | None = None
    params: GenerationParams = field(default_factory=GenerationParams)
    owner: str | None = None
    #: The chat completions surface's other fields, relayed as sent (see ChatRequest).
    passthrough: JSONObject | None = None
    #: False: the turn is not stored (the Responses API's ``store: false``); a follow-up may
    #: still read the stored history it continues from.
    store: bool = True
    #: Messages sent first on this turn only, never stored (the Responses API's
    #: ``instructions``, which a follow-up does not carry over).
    instructions: tuple[Message, ...] = ()
    #: False: a history longer than the budget is refused (400 naming ``truncation``) rather
    #: than trimmed (the Responses API's ``truncation: "disabled"``).
    truncate: bool = True


@dataclass(frozen=True, slots=True)
class HistoryBudget:
    max_messages: int = 100
    max_chars: int = 100_000


@dataclass(slots=True)
class Turn:
    route: ModelRoute
    events: AsyncGenerator[ChatEvent, None]


@dataclass(slots=True)
class _Plan:
    """Where a turn will be stored."""

    route: ModelRoute
    request: ChatRequest
    stored_conversation: str | None
    parent_id: str | None
    new_messages: tuple[Message, ...]
    owner: str | None
    stateful: bool


class ChatService:
    def __init__(
        self,
        registry: ModelRegistry,
        backends: BackendPool,
        store: ConversationStore | None,
        budget: HistoryBudget | None = None,
        pool: AccountPool | None = None,
        *,
        web_upstream_configured: bool = True,
    ) -> None:
        self.registry = registry
        self._web_upstream_configured = web_upstream_configured
        self._backends = backends
        self._store = store
        self._budget = budget or HistoryBudget()
        self._pool = pool
        self._store_checked_at = -math.inf

    async def open_turn(self, turn: TurnInput) -> Turn:
        check_header_credential(turn.credential)  # refused before any upstream, not stored
        route = self.registry.resolve(turn.model)
        if route.kind != "chat":
            raise RequestError(
                f"'{route.name}' is an embedding model: use POST /v1/embeddings, or a chat model.",
                param="model",
            )
        note_route(route.backend, route.name, route.listed)
        if self._store is not None and turn.conversation_id is None:
            # A follow-up reads the store while planning; a new conversation would not touch
            # it before the answer is in. Fail fast (503) rather than lose the answer then.
            await self._check_store(self._store)
        self._require_upstream(route, turn)
        plan = await self._plan(route, turn)
        backend = self._backends.for_route(route)
        if turn.upstream_url is not None and not turn.credential:
            # A client-chosen upstream must never receive the pool's or the operator's secrets.
            raise AuthenticationError(
                "a request that names its own upstream (reverse_proxy) must bring its own "
                "access_token"
            )
        if plan.request.credential or self._pool is None:
            events = backend.stream_chat(plan.request)
        else:
            events = self._pooled(plan, backend, self._pool)
        if self._store is None or not turn.store:
            return Turn(route, events)
        return Turn(route, self._recorded(plan, events))

    def _require_upstream(self, route: ModelRoute, turn: TurnInput) -> None:
        """A missing upstream URL is named first, before any credential is looked for."""
        web = route.backend == "chatgpt-web"
        if web and not (turn.upstream_url or route.base_url or self._web_upstream_configured):
            raise UpstreamNotConfigured(route.name)

    async def _check_store(self, store: ConversationStore) -> None:
        """Ping the store, at most once per ``STORE_CHECK_INTERVAL`` while it answers."""
        now = time.monotonic()
        if now - self._store_checked_at < STORE_CHECK_INTERVAL:
            return
        await store.ping()
        self._store_checked_at = now

    async def _plan(self, route: ModelRoute, turn: TurnInput) -> _Plan:
        # A per-request upstream only ever gets the request's own credential.
        if turn.upstream_url is not None:
            credential = turn.credential or ""
        else:
            credential = route.api_key or turn.credential or ""
        base = ChatRequest(
            messages=turn.messages,
            model=route.upstream_model,
            credential=credential,
            upstream_url=turn.upstream_url,
            params=turn.params,
            passthrough=turn.passthrough,
        )
        if route.backend == "chatgpt-web":
            check_web_request(
                turn.passthrough,
                (*turn.instructions, *turn.messages),
                model=route.name,
                emulate_tools=route.emulate_tools,
            )
            await self._check_web_owner(turn)
            return await self._with_web_root(self._plan_web(route, turn, base), turn)
        return await self._plan_stateless(route, turn, base)

    async def _check_web_owner(self, turn: TurnInput) -> None:
        """A web follow-up on another owner's stored conversation: the 404 of a missing one.

        An id the store does not know still goes upstream (the conversation may have been
        started elsewhere); one stored for another owner (another gateway key) never does.
        """
        store, conversation_id = self._store, turn.conversation_id
        if store is None or conversation_id is None:
            return
        if await store.get_conversation(conversation_id, owner=turn.owner) is not None:
            return
        if await store.conversation_exists(conversation_id):
            raise NotFound("conversation not found")

    async def _with_web_root(self, plan: _Plan, turn: TurnInput) -> _Plan:
        """A new web conversation gets an upstream root the service can find again; the root
        parent (:data:`ROOT_PARENT`) then branches its first turn (see :mod:`.tree_root`)."""
        if turn.conversation_id is None and not plan.request.parent_message_id:
            root = upstream_root_for(plan.request.user_message_id or "")
        elif turn.conversation_id and turn.parent_message_id == ROOT_PARENT:
            found = self._store and await upstream_root_of(self._store, turn.conversation_id)
            if not found:
                raise RequestError(
                    "this conversation's first message cannot be branched: it was not started "
                    "through this service",
                    param="parent_message_id",
                )
            root, plan.parent_id = found, None
        else:
            return plan
        plan.request = replace(plan.request, parent_message_id=root)
        return plan

    def _plan_web(self, route: ModelRoute, turn: TurnInput, base: ChatRequest) -> _Plan:
        new = follow_up_messages(turn.messages) if turn.conversation_id else turn.messages
        prompt = with_media(
            Message("user", fold_transcript((*turn.instructions, *new))), new
        )  # images, files
        request = replace(
            base,
            messages=(prompt,),
            conversation_id=turn.conversation_id,
            parent_message_id=turn.parent_message_id,
            user_message_id=str(uuid.uuid4()),
        )
        return _Plan(
            route, request, turn.conversation_id, turn.parent_message_id, new, turn.owner, True
        )

    async def _plan_stateless(self, route: ModelRoute, turn: TurnInput, base: ChatRequest) -> _Plan:
        history: tuple[Message, ...] = ()
        parent_id = turn.parent_message_id
        if turn.conversation_id:
            if self._store is None:
                raise NotFound("conversation not found (the conversation store is turned off)")
            conversation = await self._store.get_conversation(
                turn.conversation_id, owner=turn.owner
            )
            if conversation is None:
                raise NotFound("conversation not found")
            parent_id = parent_id or conversation.current_node
            if parent_id == ROOT_PARENT:  # branch the first turn: no history before it
                parent_id = None
            if parent_id:
                path = await self._store.path_to(parent_id, conversation_id=conversation.id)
                if not path:
                    raise NotFound("parent message not found in this conversation")
                history = await self._replayed(path)
        messages = trim_history(
            (*history, *turn.messages),
            max_messages=self._budget.max_messages,
            max_chars=self._budget.max_chars,
        )
        if not turn.truncate and len(messages) < len(history) + len(turn.messages):
            raise RequestError(
                "The conversation is longer than the history budget (settings "
                "history_max_messages, history_max_chars) and truncation is disabled: send "
                "truncation 'auto' to drop its oldest messages.",
                param="truncation",
            )
        messages = (*turn.instructions, *messages)
        return _Plan(
            route,
            replace(base, messages=messages),
            turn.conversation_id,
            parent_id,
            turn.messages,
            turn.owner,
            False,
        )

    async def _replayed(self, path: list[StoredMessage]) -> tuple[Message, ...]:
        """Stored messages as the upstream first received them (attachments put back)."""
        assert self._store is not None
        wanted: set[str] = set()
        for stored in path:
            if stored.payload is not None:
                wanted |= references(stored.payload)
        found = await self._store.attachments(wanted) if wanted else {}
        return tuple(
            Message(
                m.role,
                m.content,
                None if m.payload is None else resolve(m.payload, found),
            )
            for m in path
        )

    async def _pooled(
        self, plan: _Plan, backend: Backend, pool: AccountPool
    ) -> AsyncGenerator[ChatEvent, None]:
        """The answer through a pooled account, failing over while nothing was sent yet.

        Before the first event: an upstream 401 refreshes the token once and retries; a 429
        cools the account down and a 5xx or unreachable upstream excludes it, and another
        account is tried — except for a follow-up, which must stay on its conversation's
        account. After the first event the lease (and the account's lock) is held to the end.
        """
        web = plan.route.backend == "chatgpt-web"
        pinned = plan.request.conversation_id if web else None
        excluded: set[str] = set()
        refreshed: set[str] = set()
        for _ in range(MAX_POOL_ATTEMPTS):
            async with pool.lease(
                plan.route.backend, conversation_id=pinned, exclude=frozenset(excluded)
            ) as lease:
                events = backend.stream_chat(replace(plan.request, credential=lease.credential))
                async with aclosing(events):
                    try:
                        first = await anext(events)
                    except (UpstreamStatusError, UpstreamConnectError) as exc:
                        account = lease.account
                        status = getattr(exc, "upstream_status", 502)
                        if status == 401 and account.session_secret and account.id not in refreshed:
                            refreshed.add(account.id)
                            await pool.refresh(account)
                            continue
                        if status == 401:
                            await pool.mark_unhealthy(account, f"upstream refused the token: {exc}")
                        elif status == 429:
                            retry_after = getattr(exc, "retry_after", None)
                            await pool.cool_down(account, retry_after, "upstream rate limit (429)")
                        elif status < 500:
                            raise
                        if pinned:
                            raise
                        excluded.add(account.id)
                        continue
                    event: ChatEvent = first
                    while not isinstance(event, Finished):
                        yield event
                        event = await next_event(events, None)
                    if web and event.conversation_id and not pinned:
                        await pool.remember_conversation(event.conversation_id, lease.account)
                    yield event
                    return
        raise PoolUnavailable("no upstream account could take the request (tried several)")

    async def _recorded(
        self, plan: _Plan, events: AsyncGenerator[ChatEvent, None]
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

    async def _store_finished(self, plan: _Plan, answer: Finished, started: float) -> Finished:
        latency_ms = int((time.monotonic() - started) * 1000)
        first, *others = answer.all_choices()
        assistant = NewMessage(
            role="assistant",
            content=answer.text,
            model=plan.route.name,
            id=answer.message_id if plan.stateful else None,
            upstream_message_id=answer.message_id,
            usage=_usage_dict(answer),
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
        self, plan: _Plan, text: str, error: BaseException | None, started: float
    ) -> None:
        if not text and isinstance(error, NOT_STORED):
            return  # refused before anything reached an upstream: there is no turn to keep
        cancelled = error is None or isinstance(error, asyncio.CancelledError | GeneratorExit)
        if cancelled and _deadline_expired():
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

    async def _save_failed(self, plan: _Plan, assistant: NewMessage) -> None:
        """Store a failed turn, unless it continued a conversation this service never stored:
        that would leave a phantom conversation under an id the client made up or copied."""
        assert self._store is not None
        known = plan.stored_conversation
        if known and not await self._store.conversation_exists(known):
            return
        await self._save(plan, assistant, [], upstream_conversation=None)

    async def _save(
        self,
        plan: _Plan,
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
        assert self._store is not None
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
        plan: _Plan,
        assistant: NewMessage,
        alternatives: list[NewMessage],
        upstream_conversation: str | None,
        *,
        fresh_ids: bool,
    ) -> tuple[str, list[str]]:
        assert self._store is not None
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
        answer = assistant if keep_ids else replace(assistant, id=None)
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


def _usage_dict(answer: Finished) -> dict[str, int] | None:
    if answer.usage is None:
        return None
    return {
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
    }


def _title(messages: tuple[Message, ...]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            text = " ".join(message.content.split())
            return text[:77] + "…" if len(text) > 80 else text
    return "New conversation"


def deadline_after(seconds: float | None) -> float | None:
    return None if seconds is None else asyncio.get_running_loop().time() + seconds


#: The deadline guarding the read in progress. A deadline cancels the reading task: the turn's
#: recorder, which runs inside that read, sees only a cancellation and asks this whether it was
#: the deadline's (so the turn is stored with the timeout the client is told, not "cancelled").
_read_deadline: ContextVar[asyncio.Timeout | None] = ContextVar("read_deadline", default=None)


def _deadline_expired() -> bool:
    timeout = _read_deadline.get()
    return timeout is not None and timeout.expired()


async def next_event(events: AsyncGenerator[ChatEvent, None], deadline: float | None) -> ChatEvent:
    """The next event, or ``UpstreamTimeout`` once the deadline passed."""
    try:
        if deadline is None:
            return await anext(events)
        async with asyncio.timeout_at(deadline) as timeout:
            token = _read_deadline.set(timeout)
            try:
                return await anext(events)
            finally:
                _read_deadline.reset(token)
    except TimeoutError:
        raise UpstreamTimeout() from None
    except StopAsyncIteration:
        raise UpstreamNoAnswer("ChatGPT sent no answer") from None


async def collect_answer(
    events: AsyncGenerator[ChatEvent, None], deadline: float | None
) -> Finished:
    """Read the whole stream and return its final event."""
    async with aclosing(events):
        try:
            async with asyncio.timeout_at(deadline) as timeout:
                token = _read_deadline.set(timeout)
                try:
                    async for event in events:
                        if isinstance(event, Finished):
                            return event
                finally:
                    _read_deadline.reset(token)
        except TimeoutError:
            raise UpstreamTimeout() from None
    raise UpstreamNoAnswer("ChatGPT sent no answer")
