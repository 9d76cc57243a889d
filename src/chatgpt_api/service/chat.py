"""The conversation use-case: route a turn to its backend, plan its history, keep the tree.

On the ChatGPT web backend the upstream keeps the conversation, so our ids *are* the upstream's.
On stateless backends the ids are ours: a follow-up loads the path root → parent from the store
and sends it as history, within the budget. The final event carries the ids for the next turn.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import replace

from chatgpt_api.accounts.pool import AccountPool
from chatgpt_api.backends.pool import BackendPool
from chatgpt_api.capabilities import check_web_request
from chatgpt_api.errors import AuthenticationError, NotFound, RequestError, UpstreamNotConfigured
from chatgpt_api.header_values import check_header_credential
from chatgpt_api.history import fold_transcript, follow_up_messages, trim_history
from chatgpt_api.messages import ChatRequest, Message
from chatgpt_api.registry import ModelRegistry, ModelRoute
from chatgpt_api.request_context import note_route
from chatgpt_api.service.failover import pooled_answer
from chatgpt_api.service.recording import TurnRecorder
from chatgpt_api.service.turn import HistoryBudget, Turn, TurnInput, TurnPlan
from chatgpt_api.store import ConversationStore, StoredMessage
from chatgpt_api.store.attachments import references, resolve
from chatgpt_api.tree_root import ROOT_PARENT, upstream_root_for, upstream_root_of
from chatgpt_api.web_media import with_media

#: Seconds during which a successful store ping is trusted (the fail-fast check of new turns).
STORE_CHECK_INTERVAL = 1.0


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
        self._recorder = None if store is None else TurnRecorder(store)
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
            events = pooled_answer(plan, backend, self._pool)
        if self._recorder is None or not turn.store:
            return Turn(route, events)
        return Turn(route, self._recorder.record(plan, events))

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

    async def _plan(self, route: ModelRoute, turn: TurnInput) -> TurnPlan:
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

    async def _with_web_root(self, plan: TurnPlan, turn: TurnInput) -> TurnPlan:
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

    def _plan_web(self, route: ModelRoute, turn: TurnInput, base: ChatRequest) -> TurnPlan:
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
        return TurnPlan(
            route, request, turn.conversation_id, turn.parent_message_id, new, turn.owner, True
        )

    async def _plan_stateless(
        self, route: ModelRoute, turn: TurnInput, base: ChatRequest
    ) -> TurnPlan:
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
        return TurnPlan(
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
