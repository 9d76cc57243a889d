"""A turn's answer through the upstream account pool, failing over before the first byte."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from chatgpt_api.accounts.pool import AccountPool, PoolUnavailable
from chatgpt_api.backends.base import Backend
from chatgpt_api.errors import UpstreamConnectError, UpstreamStatusError
from chatgpt_api.messages import ChatEvent, Finished
from chatgpt_api.service.deadlines import next_event
from chatgpt_api.service.turn import TurnPlan

#: Accounts tried for one turn before giving up (failover happens only before the first byte).
MAX_POOL_ATTEMPTS = 4


async def pooled_answer(
    plan: TurnPlan, backend: Backend, pool: AccountPool
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
