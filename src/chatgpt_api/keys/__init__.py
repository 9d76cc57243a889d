"""Gateway API keys (inbound): who may call the service, and who owns each conversation.

* :mod:`.format` — the key format (``cak-`` + 32 random bytes, base64url) and its SHA-256.
* :mod:`.keystore` — :class:`KeyStore`: create / list / revoke / verify / count on the
  ``api_keys`` table, with a short-lived in-process cache on the hot path.
* :mod:`.gate` — ``authenticate(request, field_value=...)``, the one check every route makes.
* :mod:`.cli` — ``chatgpt-api keys create|list|revoke``.

The key is shown once, when created; the database keeps only its hash and a short prefix.
"""

from __future__ import annotations

from chatgpt_api.keys.keystore import (
    DEFAULT_CACHE_TTL,
    ApiKey,
    InvalidKeyName,
    KeyNameTaken,
    KeyStore,
)

__all__ = ["DEFAULT_CACHE_TTL", "ApiKey", "InvalidKeyName", "KeyNameTaken", "KeyStore"]
