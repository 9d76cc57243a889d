"""Reading an access token's expiry from its JWT ``exp`` claim.

The token is decoded, not verified: the claim is only used to refresh before the upstream
would refuse the token; the upstream's own 401 stays the authority.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

import orjson


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim as an aware UTC datetime, or None if ``token`` is not such a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None
