"""Settings: one frozen object, read once from flags and ``CHATGPT_API_*`` environment variables.

Every setting has a command-line flag on ``chatgpt-api serve`` and an environment variable named
``CHATGPT_API_<NAME>``; a flag wins over the environment, which wins over a ``.env`` file in the
working directory. No third-party host is ever a default:
the upstream URLs are required settings, checked when a request needs them (see
:func:`require`), so the service starts without them and says which one to give.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chatgpt_api.errors import ConfigurationError

LogLevel = Literal["critical", "error", "warning", "info", "debug"]

MiB = 1024 * 1024


class Settings(BaseSettings):
    """The service's configuration (environment prefix ``CHATGPT_API_``)."""

    # issue 15 (first run): a `.env` file in the working directory is read too (the real
    # environment wins over it); other variables in it, such as docker compose's, are ignored.
    model_config = SettingsConfigDict(
        env_prefix="CHATGPT_API_",
        env_file=".env",
        env_file_encoding="utf-8",
        frozen=True,
        extra="ignore",
    )

    # issue 13 item 15 (default exposure): loopback unless the operator widens it.
    host: str = Field(
        "127.0.0.1",
        description="Interface to listen on: 127.0.0.1 accepts this machine only; 0.0.0.0 (or "
        ":: for IPv6) accepts other machines too (the Docker image sets 0.0.0.0).",
    )
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
    max_body_size: int = Field(
        20 * MiB,
        ge=1024,
        description="Largest accepted request body, in bytes (images and files travel inline).",
    )
    # Request limits (issue 13 item 6): how much one chat request may carry.
    max_request_messages: int = Field(
        2048,
        ge=1,
        description="Most messages accepted in one chat request (more: 400, nothing stored or "
        "sent upstream).",
    )
    max_request_chars: int = Field(
        MiB,
        ge=1,
        description="Most characters of message text accepted in one chat request, all "
        "messages together (more: 400, nothing stored or sent upstream).",
    )
    max_event_size: int = Field(
        8 * MiB, ge=1024, description="Largest accepted upstream event (one SSE event), in bytes."
    )
    connect_timeout: float = Field(
        30.0, gt=0, description="Seconds allowed to connect to an upstream."
    )
    upstream_timeout: float | None = Field(
        600.0,
        gt=0,
        description="Seconds a /v1/chat/completions answer may take as a whole (connecting, "
        "headers and the full stream) before the upstream request is cancelled and the client "
        "gets 504 upstream_timeout; unset: no limit. The seed routes use their [timeout] field.",
    )
    allow_request_upstreams: bool = Field(
        True,
        description="Accept a per-request [reverse_proxy] URL (checked by the network policy: "
        "loopback, private, link-local and metadata addresses refused); off: refused outright.",
    )
    upstream_allowlist: str = Field(
        "",
        description="Comma-separated host names, addresses or CIDRs a per-request "
        "[reverse_proxy] may reach even though the network policy refuses their range.",
    )

    @field_validator("upstream_allowlist")
    @classmethod
    def _check_allowlist(cls, value: str) -> str:
        from chatgpt_api.netpolicy.allowlist import Allowlist

        Allowlist.parse(value)
        return value

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
        None, description="TOML file mapping model names to backends (see docs/models.md)."
    )
    history_max_messages: int = Field(
        100, ge=1, description="Most messages sent as history to stateless backends."
    )
    history_max_chars: int = Field(
        100_000, ge=100, description="Most characters sent as history to stateless backends."
    )
    secret_key: str | None = Field(
        None,
        repr=False,
        description="Fernet key encrypting upstream account secrets at rest (default: a key "
        "generated into <home>/secret.key; instances sharing a database must share it).",
    )
    pool_max_wait: float = Field(
        30.0, gt=0, description="Seconds a request may wait for a busy upstream account."
    )
    pool_max_queue: int = Field(
        16, ge=0, description="Requests that may queue for one upstream account."
    )
    account_cooldown: float = Field(
        60.0,
        gt=0,
        description="Seconds an account rests after an upstream 429 without Retry-After.",
    )
    rate_limit_rpm: int | None = Field(
        None, ge=1, description="Requests per minute per caller (gateway key, else address)."
    )
    rate_limit_cpm: int | None = Field(
        None, ge=1, description="Characters (prompt + answer) per minute per caller."
    )
    rate_limit_streams: int | None = Field(
        None, ge=1, description="Answers in progress at once per caller."
    )
    demo: bool = Field(
        False,
        description="Run the built-in upstream emulator and use it as every upstream "
        "(try the service offline, without an account).",
    )
    log_level: LogLevel = Field("info", description="Log level.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log line format: text (access lines in Apache's combined format, others "
        "with the request id in brackets) or json (one JSON object per line, each with "
        "ts, level, logger, message and request_id).",
    )
    access_log: bool = Field(True, description="Write one access-log line per request.")
    shutdown_grace: float = Field(
        10.0,
        ge=0,
        description="Seconds in-flight requests get to finish after SIGTERM (new connections "
        "are refused at once); streams still running then end with an event: error frame and "
        "their turns are stored as partial.",
    )
    require_api_key: bool | None = Field(
        None,
        description="Require a gateway API key on the API routes (/send_message, "
        "/get_access_token, /v1/*; the status page, /openapi.json, /docs, /redoc, "
        "/playground, /healthz, /readyz and /metrics stay open): "
        "unset = as the database says: required from the moment the first key is created, "
        "even after every key is revoked, until 'chatgpt-api keys require off'; true = always "
        "(no keys: every request is refused); false = never (a valid key still identifies its "
        "owner).",
    )
    api_key_cache_ttl: float = Field(
        5.0,
        ge=0,
        description="Seconds a key check (and whether keys are required) is cached per "
        "instance: a revoked key, or 'keys require on|off', takes effect everywhere within this "
        "time.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL (redis://[:password@]host:port/db) shared by every instance for "
        "rate limits and per-account locks (default: in-process, per instance).",
    )
    redis_failure_mode: Literal["closed", "open"] = Field(
        "closed",
        description="When Redis is unreachable: closed answers 503 limiter_unavailable; open "
        "lets requests through unlimited (a warning is logged once per outage).",
    )
    redis_key_prefix: str = Field(
        "chatgpt-api", min_length=1, description="Prefix of every Redis key this service uses."
    )
    redis_lease_seconds: float = Field(
        30.0,
        gt=1,
        description="Lifetime of a Redis lock or stream-slot lease; holders renew it, so a "
        "crashed instance frees its slots after at most this long.",
    )

    # Embeddings (issue 10 item 7: POST /v1/embeddings).
    max_embeddings_response_size: int = Field(
        128 * MiB,
        ge=1024,
        description="Largest accepted upstream answer to POST /v1/embeddings, in bytes; a "
        "larger one is refused with 502 upstream_protocol_error.",
    )
    # Issue 13 (hardening), item 4: bounded answers.
    max_answer_size: int = Field(
        2 * MiB,
        ge=1024,
        description="Largest answer accepted from an upstream, in UTF-8 bytes (the text, and "
        "tool-call arguments where a backend has them; 2 MiB is some 500,000 tokens): past it "
        "the answer ends with a 502 answer_too_large error, the upstream connection is closed "
        "and the turn is stored partial.",
    )
    max_upstream_body_size: int = Field(
        8 * MiB,
        ge=1024,
        description="Largest non-streamed upstream reply body (a JSON chat.completion), in "
        "bytes: past it the answer ends with a 502 answer_too_large error and the upstream "
        "connection is closed.",
    )
    # Connection and header limits at the socket, trusted proxies (issue 13, items 1, 2, 9)
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's complete headers, counted from "
        "their first byte (trickling bytes does not extend it); then 408 and the connection "
        "is closed.",
    )
    idle_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a connection may stay silent with no request in progress (before "
        "its first request, and between requests as the keep-alive timeout) before it is "
        "closed.",
    )
    max_header_size: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request head (request line and headers), in bytes, counted as "
        "they arrive: beyond it the client gets 414 (request line) or 431 (headers) and the "
        "connection is closed.",
    )
    max_connections: int = Field(
        4096,
        ge=1,
        description="Open client connections per process; one more gets a 503 and is closed "
        "at once. Lowered to fit the open-file limit, which start-up raises to its hard limit.",
    )
    max_connections_per_client: int = Field(
        256,
        ge=0,
        description="Open connections per client (peer) address; one more gets a 503 and is "
        "closed at once. 0: no cap. Trusted proxies are exempt.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDRs of the load balancers or reverse "
        "proxies in front of the service: only connections from them may set the client "
        "address and scheme with X-Forwarded-For / X-Forwarded-Proto (default: none, the "
        "peer address is the client). Set it to the load balancer's address behind one.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        from chatgpt_api.http_guard import parse_networks

        parse_networks(value)
        return value

    # Issue 12 item 1 (webupload): images and files through the ChatGPT web upload flow.
    web_upload_max_file_size: int = Field(
        20 * MiB,
        ge=1,
        description="Largest image or file, in bytes (decoded), sent through the ChatGPT web "
        "file upload flow or given as a multipart file to /send_message; a larger one is "
        "refused with a 400 (500 on /send_message, as the seed answers).",
    )
    web_upload_cache_size: int = Field(
        1024,
        ge=0,
        description="Uploaded files remembered per ChatGPT web upstream (by account and "
        "content SHA-256), so a follow-up with the same image does not upload it again; 0 "
        "turns the cache off.",
    )
    web_upload_cache_ttl: float = Field(
        86400.0,
        gt=0,
        description="Seconds an uploaded file is reused from the upload cache before it is "
        "uploaded again.",
    )


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "chatgpt-api"


def missing_upstream_message(setting: str, flag: str, field: str | None = None) -> str:
    """The error text naming the setting (and flag, and request field) that gives an upstream."""
    hint = f" or pass [{field}] in the request" if field else ""
    return f"no upstream configured: set CHATGPT_API_{setting} (or {flag}){hint}"


def require(value: str | None, setting: str, flag: str, field: str | None = None) -> str:
    """``value``, or a :class:`ConfigurationError` naming the setting to give."""
    if value:
        return value
    raise ConfigurationError(missing_upstream_message(setting, flag, field))
