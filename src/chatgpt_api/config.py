"""Settings: one frozen object, read once from flags and ``CHATGPT_API_*`` environment variables.

Every setting has a command-line flag on ``chatgpt-api serve`` and an environment variable named
``CHATGPT_API_<NAME>``; a flag wins over the environment. No third-party host is ever a default:
the upstream URLs are required settings, checked when a request needs them (see
:func:`require`), so the service starts without them and says which one to give.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatgpt_api.errors import ConfigurationError

LogLevel = Literal["critical", "error", "warning", "info", "debug"]

MiB = 1024 * 1024


class Settings(BaseSettings):
    """The service's configuration (environment prefix ``CHATGPT_API_``)."""

    model_config = SettingsConfigDict(env_prefix="CHATGPT_API_", frozen=True, extra="ignore")

    host: str = Field("0.0.0.0", description="Interface to listen on.")
    port: int = Field(3000, ge=0, le=65535, description="TCP port to listen on.")
    reverse_proxy: str | None = Field(
        None,
        description="Full URL of the ChatGPT web conversation endpoint (or a reverse proxy of "
        "it) used when a request gives no [reverse_proxy].",
    )
    model: str = Field("gpt-3.5-turbo", description="Model used when a request gives none.")
    auth_url: str | None = Field(
        None,
        description="URL of the login service used by /get_access_token with email + password "
        "(the chatgpt-auth contract).",
    )
    session_url: str | None = Field(
        None,
        description="URL of the /api/auth/session endpoint used by /get_access_token with a "
        "session_token.",
    )
    max_body_size: int = Field(MiB, ge=1024, description="Largest accepted request body, in bytes.")
    max_event_size: int = Field(
        8 * MiB, ge=1024, description="Largest accepted upstream event (one SSE event), in bytes."
    )
    connect_timeout: float = Field(
        30.0, gt=0, description="Seconds allowed to connect to an upstream."
    )
    home: Path = Field(
        default_factory=lambda: _default_home(),
        description="Data directory (the default SQLite database lives here).",
    )
    database_url: str | None = Field(
        None,
        description="Conversation store URL: sqlite+aiosqlite:///path.db or "
        "postgresql+asyncpg://user@host/db (default: SQLite under the data directory).",
    )
    store: bool = Field(True, description="Store conversations (off: nothing is kept).")
    models_file: Path | None = Field(
        None, description="TOML file mapping model names to backends (see the README)."
    )
    history_max_messages: int = Field(
        100, ge=1, description="Most messages sent as history to stateless backends."
    )
    history_max_chars: int = Field(
        100_000, ge=100, description="Most characters sent as history to stateless backends."
    )
    demo: bool = Field(
        False,
        description="Run the built-in upstream emulator and use it as every upstream "
        "(try the service offline, without an account).",
    )
    log_level: LogLevel = Field("info", description="Log level.")
    access_log: bool = Field(True, description="Write one access-log line per request.")


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "chatgpt-api"


def require(value: str | None, setting: str, flag: str, field: str | None = None) -> str:
    """``value``, or a :class:`ConfigurationError` naming the setting to give."""
    if value:
        return value
    hint = f" or pass [{field}] in the request" if field else ""
    raise ConfigurationError(f"no upstream configured: set CHATGPT_API_{setting} (or {flag}){hint}")
