"""What the routes share for the life of the app (stored as ``app.state.chatgpt``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from chatgpt_api.accounts.pool import AccountPool
from chatgpt_api.config import Settings
from chatgpt_api.limits import RateLimiter
from chatgpt_api.service import ChatService
from chatgpt_api.store import ConversationStore
from chatgpt_api.upstream_login.token_cache import TokenCache

if TYPE_CHECKING:  # bound to SQLAlchemy: present only when the store is on
    from chatgpt_api.keys.keystore import KeyStore
    from chatgpt_api.store.responses import ResponseStore


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    service: ChatService
    http: aiohttp.ClientSession
    store: ConversationStore | None = None
    pool: AccountPool | None = None
    #: Per-key rate limits (in-process, or Redis shared by every instance).
    limiter: RateLimiter | None = None
    #: ``/get_access_token`` results, until shortly before they expire.
    token_cache: TokenCache = field(default_factory=TokenCache)
    #: Gateway API keys; None when the store is off (keys are then unavailable).
    keys: KeyStore | None = None
    #: Stored Responses API responses; None when the store is off.
    responses: ResponseStore | None = None

    @property
    def require_api_key(self) -> bool | None:
        """Whether callers must present a gateway key (None: as the database says)."""
        return self.settings.require_api_key
