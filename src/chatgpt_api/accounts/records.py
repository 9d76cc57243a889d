"""Value types of the upstream account pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

AccountKind = Literal["access_token", "session_token", "api_key"]
AccountStatus = Literal["healthy", "unhealthy"]


@dataclass(frozen=True, slots=True)
class Account:
    """An upstream account as stored; secrets stay encrypted (``repr`` never shows them)."""

    id: str
    name: str
    backend: str
    kind: AccountKind
    access_secret: str | None = field(repr=False)
    session_secret: str | None = field(repr=False)
    expires_at: datetime | None
    status: AccountStatus
    reason: str | None
    cooldown_until: datetime | None
    created_at: datetime
    updated_at: datetime
