"""What the routes share for the life of the app (stored as ``app.state.chatgpt``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from chatgpt_api.config import Settings
from chatgpt_api.service import ChatService
from chatgpt_api.store import ConversationStore


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    service: ChatService
    http: aiohttp.ClientSession
    store: ConversationStore | None = None
