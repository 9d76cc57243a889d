"""The gateway key format: generation, hashing and the prefix shown in listings.

A key is ``cak-`` followed by 32 random bytes in unpadded base64url (47 characters in all).
Only its SHA-256 (hex) is stored: the key carries 256 bits of randomness, so a fast hash is
enough (no password-hashing cost is needed to stop guessing) and the plaintext never touches
the database. The first :data:`PREFIX_LENGTH` characters (``cak-`` + 8) are stored as well:
they identify a key in listings and index the lookup, and reveal too little to help guessing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

KEY_SCHEME: Final = "cak-"
KEY_BYTES: Final = 32
PREFIX_LENGTH: Final = len(KEY_SCHEME) + 8
#: Length of a well-formed key: the scheme + 43 base64url characters.
KEY_LENGTH: Final = len(KEY_SCHEME) + 43


def generate_key() -> str:
    """A new random gateway key."""
    raw = secrets.token_bytes(KEY_BYTES)
    return KEY_SCHEME + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def hash_key(key: str) -> str:
    """The SHA-256 of ``key``, as 64 hex digits (what the database keeps)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_prefix(key: str) -> str:
    """The visible start of a key (``cak-`` + 8 characters)."""
    return key[:PREFIX_LENGTH]


def looks_like_key(value: str) -> bool:
    """True for anything presented as a gateway key (it must then never go upstream)."""
    return value.startswith(KEY_SCHEME)


def hashes_equal(a: str, b: str) -> bool:
    """Compare two hex digests in constant time."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))
