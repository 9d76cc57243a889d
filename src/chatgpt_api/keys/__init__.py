"""Gateway API keys (inbound): who may call the service, and who owns each conversation.

* :mod:`.format` — the key format (``cak-`` + 32 random bytes, base64url) and its SHA-256.
* :mod:`.records` — :class:`ApiKey`, the key-name rule and its errors (no SQLAlchemy).
* :mod:`.keystore` — :class:`KeyStore` on the ``api_keys`` table, with a short-lived cache on
  the hot path; it and :mod:`.key_policy` build SQLAlchemy queries, so they load on first use.
* :mod:`.gate` — ``authenticate(request, field_value=...)``, the one check every route makes.

The key is shown once, when created; the database keeps only its hash and a short prefix.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chatgpt_api.keys.records import ApiKey, InvalidKeyName, KeyNameTaken

if TYPE_CHECKING:
    from chatgpt_api.keys.keystore import DEFAULT_CACHE_TTL, KeyStore

__all__ = ["DEFAULT_CACHE_TTL", "ApiKey", "InvalidKeyName", "KeyNameTaken", "KeyStore"]


def __getattr__(name: str) -> object:
    if name not in ("DEFAULT_CACHE_TTL", "KeyStore"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("chatgpt_api.keys.keystore"), name)
    globals()[name] = value
    return value
