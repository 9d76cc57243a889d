"""Emulator-wide settings (:class:`EmulatorOptions`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_OPENAI_MODELS", "EmulatorOptions"]

#: The model ids the OpenAI-style routes know by default (``GET /v1/models``). Ids that contain
#: ``embedding`` are embeddings models (``POST /v1/embeddings``), the others chat models.
DEFAULT_OPENAI_MODELS: tuple[str, ...] = (
    "gpt-3.5-turbo",
    "gpt-4",
    "gpt-4-turbo",
    "gpt-4o",
    "gpt-4o-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
)


@dataclass(frozen=True)
class EmulatorOptions:
    """Emulator-wide settings."""

    #: Number of pieces the demo backend's (and the OpenAI routes') answer is streamed in.
    chunks: int = 8
    #: Pause between two demo events / OpenAI stream chunks, in ms (0: as fast as possible).
    chunk_delay_ms: float = 0
    #: Pause between two fixture chunks, in ms (added to a fixture's own delay).
    delay_ms_between_fixture_chunks: float = 0
    #: The demo backend and the OpenAI routes require ``Authorization: Bearer <token>``.
    require_auth: bool = True
    #: Model ids the OpenAI routes list and accept (any other is a 404 ``model_not_found``).
    openai_models: tuple[str, ...] = DEFAULT_OPENAI_MODELS
    #: A JSON file keeping the demo backend's conversations across restarts (None: memory only).
    demo_state_file: Path | None = None
