"""Caching ``/get_access_token`` results until shortly before the token expires.

Logging in is slow and rate-limited upstream, and the seed's README told users to cache the
token themselves; the service does it for them. Entries are keyed by a SHA-256 of the
credentials (never the credentials themselves), live until ``margin`` before the token's JWT
``exp`` (or ``default_ttl`` when it has none), and the cache is bounded (least recently used
entries go first). Only successes are cached.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

from chatgpt_api.jwt_claims import jwt_expiry
from chatgpt_api.upstream_login.client import AccessToken


class TokenCache:
    def __init__(
        self, *, margin: float = 300.0, default_ttl: float = 600.0, max_entries: int = 1024
    ) -> None:
        self._margin = margin
        self._default_ttl = default_ttl
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, AccessToken]] = OrderedDict()

    @staticmethod
    def key(*credentials: str) -> str:
        return hashlib.sha256("\0".join(credentials).encode()).hexdigest()

    def get(self, key: str) -> AccessToken | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        valid_until, token = entry
        if time.time() >= valid_until:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return token

    def put(self, key: str, token: AccessToken) -> None:
        expiry = jwt_expiry(token.access_token)
        now = time.time()
        valid_until = expiry.timestamp() - self._margin if expiry else now + self._default_ttl
        if valid_until <= now:
            return
        self._entries[key] = (valid_until, token)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
