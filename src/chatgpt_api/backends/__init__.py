"""Upstream backends: each turns a ``ChatRequest`` into a stream of ``ChatEvent`` values."""

from chatgpt_api.backends.base import Backend
from chatgpt_api.backends.chatgpt_web import ChatGPTWebBackend

__all__ = ["Backend", "ChatGPTWebBackend"]
