"""The upstream account pool: choose an account, keep its token fresh, protect it from overload.

A ChatGPT web follow-up goes to the account that started the conversation; otherwise the
least-busy healthy account not cooling down is taken. A lease holds the account's lock
(:class:`AccountLocks`, in-process or Redis) for the whole answer, waiters queue within bounds
or get a 503 with ``Retry-After``. Tokens are refreshed through the session token near expiry
or after a 401 (a failed refresh marks the account unhealthy, retried later); an upstream 429
cools the account down.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import aiohttp

from chatgpt_api.accounts.records import Account
from chatgpt_api.accounts.secrets import SecretBox
from chatgpt_api.errors import AuthenticationError, ServiceError
from chatgpt_api.jwt_claims import jwt_expiry
from chatgpt_api.upstream_login import client as login_client

if TYPE_CHECKING:  # the repository is SQL; the pool exists only when the store is on
    from chatgpt_api.accounts.repository import AccountRepository

REFRESH_MARGIN = timedelta(minutes=5)
#: An unhealthy account that has a session token is tried again (by refreshing) after this.
RETRY_UNHEALTHY_AFTER = timedelta(minutes=10)
LIST_CACHE_SECONDS = 2.0


class AccountLocks(Protocol):
    def hold(
        self, account_id: str, *, max_wait: float, max_queue: int
    ) -> contextlib.AbstractAsyncContextManager[object]: ...


class NoUpstreamAccount(AuthenticationError):
    code = "no_upstream_account"


def missing_credential_message(backend: str) -> str:
    """What to give when a request has no upstream credential and the pool none for it."""
    if backend == "chatgpt-web":
        ways = (
            "send a ChatGPT access token (Authorization: Bearer <token>; CHATGPT_API_KEY for "
            "the command line), or add a pooled account: chatgpt-api accounts add --name NAME "
            "--access-token TOKEN"
        )
    else:
        ways = (
            "give the model an api_key (or api_key_env) in the models file, send "
            "Authorization: Bearer <API key>, or add a pooled account: chatgpt-api accounts add "
            f"--name NAME --backend {backend} --api-key KEY"
        )
    return f"no upstream credential for {backend}: {ways}"


class PoolUnavailable(ServiceError):
    """No account can take the request now; ``retry_after`` says when to try again."""

    status = 503
    error_type = "server_error"
    code = "pool_unavailable"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountGone(ServiceError):
    status = 409
    error_type = "invalid_request_error"
    code = "account_gone"


@dataclass(frozen=True, slots=True)
class Lease:
    account: Account
    credential: str


@dataclass(frozen=True, slots=True)
class PoolSettings:
    max_wait: float = 30.0
    max_queue: int = 16
    default_cooldown: float = 60.0


def _may_retry(account: Account, now: datetime) -> bool:
    """Whether an unhealthy account is due another refresh attempt."""
    return (
        account.status == "unhealthy"
        and account.session_secret is not None
        and account.updated_at + RETRY_UNHEALTHY_AFTER <= now
    )


class AccountPool:
    def __init__(
        self,
        repository: AccountRepository,
        box: SecretBox,
        locks: AccountLocks,
        http: aiohttp.ClientSession,
        *,
        session_url: str | None,
        settings: PoolSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repository = repository
        self._box = box
        self._locks = locks
        self._http = http
        self._session_url = session_url
        self._settings = settings or PoolSettings()
        self._clock = clock
        self._inflight: defaultdict[str, int] = defaultdict(int)
        self._cache: tuple[float, list[Account]] = (-math.inf, [])
        self._refreshing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def accounts(self) -> list[Account]:
        loaded_at, accounts = self._cache
        if self._clock() - loaded_at > LIST_CACHE_SECONDS:
            accounts = await self.repository.list()
            self._cache = (self._clock(), accounts)
        return accounts

    def forget_cache(self) -> None:
        self._cache = (-math.inf, [])

    async def has_accounts(self, backend: str | None = None) -> bool:
        return any(backend is None or a.backend == backend for a in await self.accounts())

    @contextlib.asynccontextmanager
    async def lease(
        self,
        backend: str,
        *,
        conversation_id: str | None = None,
        exclude: frozenset[str] = frozenset(),
    ) -> AsyncIterator[Lease]:
        account = await self._choose(backend, conversation_id, exclude)
        self._inflight[account.id] += 1
        try:
            if backend == "chatgpt-web":
                async with self._locks.hold(
                    account.id, max_wait=self._settings.max_wait, max_queue=self._settings.max_queue
                ):
                    yield Lease(account, await self._usable_credential(account))
            else:
                yield Lease(account, await self._usable_credential(account))
        finally:
            self._inflight[account.id] -= 1
            if not self._inflight[account.id]:
                del self._inflight[account.id]

    async def _choose(
        self, backend: str, conversation_id: str | None, exclude: frozenset[str]
    ) -> Account:
        if conversation_id and backend == "chatgpt-web":
            return await self._holder_of(conversation_id)
        candidates = [a for a in await self.accounts() if a.backend == backend]
        if not candidates:
            raise NoUpstreamAccount(missing_credential_message(backend))
        now = datetime.now(UTC)
        usable = [
            a
            for a in candidates
            if (a.status == "healthy" or _may_retry(a, now))
            and a.id not in exclude
            and (a.cooldown_until is None or a.cooldown_until <= now)
        ]
        if not usable:
            raise self._unavailable(candidates, now)
        return min(usable, key=lambda a: (self._inflight.get(a.id, 0), a.updated_at))

    def _unavailable(self, accounts: list[Account], now: datetime) -> PoolUnavailable:
        waits = [
            (a.cooldown_until - now).total_seconds()
            for a in accounts
            if a.status == "healthy" and a.cooldown_until and a.cooldown_until > now
        ]
        if waits:
            wait = max(1.0, min(waits))
            return PoolUnavailable(
                f"every upstream account is cooling down; retry in {math.ceil(wait)} s", wait
            )
        return PoolUnavailable("no healthy upstream account (see `chatgpt-api accounts check`)")

    async def _holder_of(self, conversation_id: str) -> Account:
        account_id = await self.repository.account_of_conversation(conversation_id)
        if account_id is None:
            raise NoUpstreamAccount(
                "this conversation was not started through an upstream account of this "
                "service: pass the access_token it was started with"
            )
        account = await self.repository.get(account_id)
        if account is None:
            raise AccountGone(
                "the upstream account that holds this conversation was removed: "
                "start a new conversation"
            )
        if account.status != "healthy":
            raise PoolUnavailable(
                f"the upstream account that holds this conversation is unhealthy: {account.reason}"
            )
        now = datetime.now(UTC)
        if account.cooldown_until and account.cooldown_until > now:
            wait = (account.cooldown_until - now).total_seconds()
            raise PoolUnavailable(
                "the upstream account that holds this conversation is cooling down; retry in "
                f"{math.ceil(wait)} s",
                wait,
            )
        return account

    async def _usable_credential(self, account: Account) -> str:
        if account.status == "unhealthy":
            return await self.refresh(account)  # a retry: only a new token can help
        return await self.credential(account)

    async def credential(self, account: Account) -> str:
        """The account's token or key, refreshed first if it is about to expire."""
        token = self._box.decrypt(account.access_secret) if account.access_secret else None
        if account.kind == "api_key" and token:
            return token
        fresh = (
            account.expires_at is None or account.expires_at > datetime.now(UTC) + REFRESH_MARGIN
        )
        if token and fresh:
            return token
        if account.session_secret:
            return await self.refresh(account)
        if token:
            return token  # expired by its claim: the upstream has the last word
        raise PoolUnavailable(f"upstream account {account.name!r} has no usable token")

    async def refresh(self, account: Account) -> str:
        """A new access token through the session token; marks the account unhealthy on failure."""
        async with self._refreshing[account.id]:
            current = await self.repository.get(account.id)
            refreshed_meanwhile = (
                current is not None
                and current.updated_at > account.updated_at
                and current.access_secret
                and current.status == "healthy"
                and (current.expires_at is None or current.expires_at > datetime.now(UTC))
            )
            if refreshed_meanwhile:
                assert current is not None and current.access_secret is not None
                return self._box.decrypt(current.access_secret)
            if not account.session_secret or not self._session_url:
                reason = (
                    "token expired and no session token / CHATGPT_API_SESSION_URL to refresh it"
                )
                await self._fail(account, reason)
            assert account.session_secret is not None and self._session_url is not None
            session_token = self._box.decrypt(account.session_secret)
            try:
                token = await login_client.token_from_session(
                    self._http, self._session_url, session_token
                )
            except ServiceError as exc:
                await self._fail(account, f"refresh failed: {exc.message}")
            await self.repository.set_access(
                account.id,
                self._box.encrypt(token.access_token),
                jwt_expiry(token.access_token),
            )
            self.forget_cache()
            return token.access_token

    async def _fail(self, account: Account, reason: str) -> None:
        await self.repository.mark_unhealthy(account.id, reason)
        self.forget_cache()
        raise PoolUnavailable(f"upstream account {account.name!r} is unhealthy: {reason}")

    async def cool_down(self, account: Account, retry_after: float | None, reason: str) -> None:
        seconds = retry_after if retry_after is not None else self._settings.default_cooldown
        until = datetime.now(UTC) + timedelta(seconds=max(1.0, seconds))
        await self.repository.cool_down(account.id, until, reason)
        self.forget_cache()

    async def mark_unhealthy(self, account: Account, reason: str) -> None:
        await self.repository.mark_unhealthy(account.id, reason)
        self.forget_cache()

    async def remember_conversation(self, conversation_id: str, account: Account) -> None:
        await self.repository.remember_conversation(conversation_id, account.id)
