"""What ``chatgpt-api serve`` checks and says before it listens.

:func:`check_port_available` (a taken port is one clear line and a non-zero exit);
:func:`inspect_database` (the schema upgrade, in a short-lived child process only when the
database is behind, plus active keys and pooled accounts); :func:`upstream_status` (whether any
upstream is configured); :func:`summary_lines` (data location, upstreams and models, whether
keys are required, the address). The seed's ``Listening on`` line follows once bound. Nothing
here prints a secret: URLs are shown without userinfo, query or fragment.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL

from chatgpt_api import __version__
from chatgpt_api.config import Settings
from chatgpt_api.errors import ConfigurationError
from chatgpt_api.registry import ModelRegistry

NO_UPSTREAM_HINT = (
    "none: use --demo to try it offline, or --reverse-proxy URL (ChatGPT web), "
    "or --models-file FILE (OpenAI-style models)"
)
DEMO_MODELS = "gpt-3.5-turbo (chatgpt-web), gpt-4o-mini (openai), gpt-4o (openai-compatible)"


def check_port_available(host: str, port: int) -> None:
    """Bind ``host:port`` once and let it go; a :class:`ConfigurationError` if that fails."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # The same option uvicorn sets: a port left in TIME_WAIT is not "in use".
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise ConfigurationError(_bind_failure(host, port, exc)) from None


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: the port is already in use (another chatgpt-api?); "
            "stop that process or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need root)"
    reason = exc.strerror or str(exc)
    return f"cannot listen on {where}: {reason} (check --host)"


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What the summary tells about the database; ``None`` for a fact not looked up."""

    active_keys: int | None = None
    accounts: dict[str, int] = field(default_factory=dict)


async def inspect_database(url: str) -> StoreFacts:
    """Upgrade the schema at ``url`` if it is behind (in a child process), then count keys and
    accounts."""
    from chatgpt_api.accounts.repository import AccountRepository
    from chatgpt_api.keys.keystore import KeyStore
    from chatgpt_api.store import open_store

    store = await open_store(url, isolated_upgrade=True)
    try:
        keys = KeyStore(store)
        try:
            active = await keys.count_active()
        finally:
            await keys.close()
        accounts = Counter(account.backend for account in await AccountRepository(store).list())
    finally:
        await store.close()
    return StoreFacts(active, dict(accounts))


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """The configured upstreams, one readable line each (empty: none at all)."""

    lines: tuple[str, ...]

    @property
    def configured(self) -> bool:
        return bool(self.lines)


def upstream_status(settings: Settings, registry: ModelRegistry) -> UpstreamStatus:
    if settings.demo:
        return UpstreamStatus((f"the built-in emulator (demo mode): {DEMO_MODELS}",))
    lines: list[str] = []
    if settings.reverse_proxy:
        lines.append(f"chatgpt-web at {shown_url(settings.reverse_proxy)}")
    for route in registry.listed():
        where = f" at {shown_url(route.base_url)}" if route.base_url else ""
        lines.append(f"model {route.name} -> {route.backend}{where}")
    return UpstreamStatus(tuple(lines))


def shown_url(url: str) -> str:
    """``url`` without userinfo, query or fragment (where secrets may live)."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return "(an unparsable URL)"
    if not parsed.host:
        return "(an unparsable URL)"
    return str(parsed.with_user(None).with_query(None).with_fragment(None))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def summary_lines(
    settings: Settings, registry: ModelRegistry, facts: StoreFacts | None = None
) -> list[str]:
    """The start-up summary printed before ``Listening on ...``."""
    facts = facts or StoreFacts()
    upstreams = upstream_status(settings, registry)
    lines = [f"chatgpt-api {__version__}", f"  data:      {_data_line(settings)}"]
    if upstreams.configured:
        lines.append(f"  upstream:  {upstreams.lines[0]}")
        lines.extend(f"             {line}" for line in upstreams.lines[1:])
    else:
        lines.append(f"  upstream:  {NO_UPSTREAM_HINT}")
    lines.append(f"  models:    {_models_line(settings, registry)}")
    if facts.accounts:
        counts = sorted(facts.accounts.items())
        pooled = ", ".join(f"{count} {backend}" for backend, count in counts)
        lines.append(f"  accounts:  {pooled} (pooled upstream credentials)")
    lines.append(f"  requests:  {_request_upstreams_line(settings)}")
    lines.append(f"  API keys:  {_keys_line(settings, facts)}")
    lines.append(f"  address:   {_address_line(settings, facts)}")
    return lines


def _data_line(settings: Settings) -> str:
    if not settings.store:
        return "nothing is stored (--no-store)"
    if settings.database_url:
        return f"{shown_url(settings.database_url)} (conversations, keys, accounts)"
    database = Path(settings.home) / "chatgpt-api.db"
    return f"{settings.home} (SQLite: {database})"


def _models_line(settings: Settings, registry: ModelRegistry) -> str:
    if settings.demo:
        return f"default {settings.model}; every demo model answers without a credential"
    default = registry.default_backend
    others = f"other names go to {default}" if default else "other names are refused"
    return f"default {settings.model}; {others}"


def _request_upstreams_line(settings: Settings) -> str:
    if not settings.allow_request_upstreams:
        return "a per-request [reverse_proxy] is refused"
    return (
        "a per-request [reverse_proxy] is accepted (public addresses only, see docs/operations.md)"
    )


def _keys_line(settings: Settings, facts: StoreFacts) -> str:
    if not settings.store:
        return "not available without the store"
    if settings.require_api_key is True:
        return "required on the API routes (--require-api-key)"
    if settings.require_api_key is False:
        return "not required (--no-require-api-key)"
    if facts.active_keys:
        return f"required on the API routes ({facts.active_keys} active)"
    return "not required until the first one is created (chatgpt-api keys create NAME)"


def _address_line(settings: Settings, facts: StoreFacts) -> str:
    port = "a free port" if settings.port == 0 else str(settings.port)
    where = f"[{settings.host}]" if ":" in settings.host else settings.host
    if is_loopback(settings.host):
        return f"{where}:{port}, this machine only (--host 0.0.0.0 accepts other machines)"
    open_to_all = settings.require_api_key is False or (
        settings.require_api_key is None and not facts.active_keys
    )
    warning = ": anyone who can reach it can use it without a key" if open_to_all else ""
    return f"{where}:{port}, reachable from other machines{warning}"
