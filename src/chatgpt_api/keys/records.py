"""The plain values of gateway keys, apart from the database: a key as listings show it
(:class:`ApiKey`), the key-name rule (:func:`check_name`) and its errors, and the stored
key requirement (:data:`StoredRequirement`). No SQLAlchemy: the gate and the routes read these
whether or not a store is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from chatgpt_api.errors import RequestError

MAX_NAME_LENGTH: Final = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]*")

#: The operator's stored choice of whether keys are required (:mod:`.key_policy`).
StoredRequirement = Literal["on", "off"]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, as listings show it (the hash stays inside the store)."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class InvalidKeyName(RequestError):
    code = "invalid_key_name"


class KeyNameTaken(RequestError):
    status = 409
    code = "duplicate_key_name"


def check_name(name: str) -> str:
    """A usable key name, or :class:`InvalidKeyName` saying why not."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidKeyName(
            f"invalid key name {name[:MAX_NAME_LENGTH]!r}: use 1 to {MAX_NAME_LENGTH} letters, "
            "digits and . _ @ : + - (starting with a letter or digit)"
        )
    return name
