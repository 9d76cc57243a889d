""":class:`ResponseRecord`: a stored Responses API response, as a plain value.

Kept apart from :mod:`.responses` (the SQL that stores it) so the routes can build and read
records without loading SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """The response object as returned, its input items, and the answer's node in the tree."""

    id: str
    owner: str | None
    conversation_id: str
    message_id: str
    body: Mapping[str, Any]
    input_items: Sequence[Mapping[str, Any]]
    created_at: datetime
