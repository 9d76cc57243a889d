"""Upstream accounts in the database (the conversation store's engine, SQLite or PostgreSQL).

Secrets arrive and leave encrypted (see :mod:`.secrets`); this module never sees them in clear.
The conversation → account mapping lives here too, so every instance routes a follow-up to the
account that holds the conversation.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from chatgpt_api.accounts.records import Account, AccountKind
from chatgpt_api.errors import RequestError
from chatgpt_api.store import DuplicateId, SQLStore
from chatgpt_api.store.schema import conversation_accounts, upstream_accounts


def utcnow() -> datetime:
    return datetime.now(UTC)


def _account(row: Any) -> Account:
    return Account(
        id=row.id,
        name=row.name,
        backend=row.backend,
        kind=row.kind,
        access_secret=row.access_secret,
        session_secret=row.session_secret,
        expires_at=row.expires_at,
        status=row.status,
        reason=row.reason,
        cooldown_until=row.cooldown_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class AccountRepository:
    def __init__(self, store: SQLStore) -> None:
        self._store = store

    async def add(
        self,
        *,
        name: str,
        backend: str,
        kind: AccountKind,
        access_secret: str | None,
        session_secret: str | None,
        expires_at: datetime | None,
    ) -> Account:
        now = utcnow()
        account = Account(
            id=str(uuid.uuid4()),
            name=name,
            backend=backend,
            kind=kind,
            access_secret=access_secret,
            session_secret=session_secret,
            expires_at=expires_at,
            status="healthy",
            reason=None,
            cooldown_until=None,
            created_at=now,
            updated_at=now,
        )
        try:
            await self._store.execute(insert(upstream_accounts).values(**asdict(account)))
        except (IntegrityError, DuplicateId):
            raise RequestError(f"an account named {name!r} already exists") from None
        return account

    async def list(self, backend: str | None = None) -> list[Account]:
        query = select(upstream_accounts).order_by(upstream_accounts.c.created_at)
        if backend is not None:
            query = query.where(upstream_accounts.c.backend == backend)
        return [_account(row) for row in await self._store.rows(query)]

    async def get(self, account_id: str) -> Account | None:
        query = select(upstream_accounts).where(upstream_accounts.c.id == account_id)
        rows = await self._store.rows(query)
        return _account(rows[0]) if rows else None

    async def find(self, name_or_id: str) -> Account | None:
        query = select(upstream_accounts).where(
            (upstream_accounts.c.name == name_or_id) | (upstream_accounts.c.id == name_or_id)
        )
        rows = await self._store.rows(query)
        return _account(rows[0]) if rows else None

    async def remove(self, name_or_id: str) -> bool:
        table = upstream_accounts
        query = delete(table).where((table.c.name == name_or_id) | (table.c.id == name_or_id))
        return await self._store.execute(query) > 0

    async def _update(self, account_id: str, **values: Any) -> None:
        await self._store.execute(
            update(upstream_accounts)
            .where(upstream_accounts.c.id == account_id)
            .values(updated_at=utcnow(), **values)
        )

    async def set_access(
        self, account_id: str, access_secret: str, expires_at: datetime | None
    ) -> None:
        await self._update(
            account_id,
            access_secret=access_secret,
            expires_at=expires_at,
            status="healthy",
            reason=None,
        )

    async def mark_unhealthy(self, account_id: str, reason: str) -> None:
        await self._update(account_id, status="unhealthy", reason=reason)

    async def cool_down(self, account_id: str, until: datetime, reason: str) -> None:
        await self._update(account_id, cooldown_until=until, reason=reason)

    async def remember_conversation(self, conversation_id: str, account_id: str) -> None:
        # Already mapped: a follow-up, or another instance was first.
        with contextlib.suppress(IntegrityError, DuplicateId):
            await self._store.execute(
                insert(conversation_accounts).values(
                    conversation_id=conversation_id, account_id=account_id, created_at=utcnow()
                )
            )

    async def account_of_conversation(self, conversation_id: str) -> str | None:
        query = select(conversation_accounts.c.account_id).where(
            conversation_accounts.c.conversation_id == conversation_id
        )
        rows = await self._store.rows(query)
        return str(rows[0][0]) if rows else None
