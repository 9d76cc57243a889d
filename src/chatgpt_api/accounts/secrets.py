"""Encrypting upstream secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``CHATGPT_API_SECRET_KEY`` (a Fernet key: 32 url-safe base64 bytes; every
instance sharing a database must use the same one). Without it, a key is generated once into
``<home>/secret.key`` (mode 0600) — fine for one machine. A wrong key is reported as such, never
as garbage tokens. The key is checked at start-up; ``cryptography`` (~6 MB) is imported at the
first encryption or decryption only.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import TYPE_CHECKING

from chatgpt_api.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY_FILE = "secret.key"
#: A Fernet key is 32 random bytes, url-safe base64.
_KEY_BYTES = 32


def new_key() -> bytes:
    """A new Fernet key."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES))


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            valid = len(base64.urlsafe_b64decode(key)) == _KEY_BYTES
        except (binascii.Error, ValueError, TypeError):
            valid = False
        if not valid:
            raise ConfigurationError(
                "CHATGPT_API_SECRET_KEY is not a valid key: generate one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            )
        self._key = key
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(self._key)
        return self._fernet

    def encrypt(self, secret: str) -> str:
        return self._cipher().encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._cipher().decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise ConfigurationError(
                "cannot decrypt a stored upstream secret: CHATGPT_API_SECRET_KEY is not the "
                "key it was stored with"
            ) from None


def load_secret_box(configured: str | None, home: Path) -> SecretBox:
    if configured:
        return SecretBox(configured.encode())
    path = home.expanduser() / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(new_key())
    return SecretBox(path.read_bytes().strip())


def mask(secret: str) -> str:
    """A recognisable but useless form of a secret: ``eyJh…x9Q`` (never the whole thing)."""
    if len(secret) <= 12:
        return "…"
    return f"{secret[:4]}…{secret[-3:]}"
