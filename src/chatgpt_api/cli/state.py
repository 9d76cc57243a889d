"""The CLI's memory of the last conversation, per target, for ``ask -c`` / ``chat -c``.

A small JSON file in the data directory (``<home>/cli-state.json``)::

    {"last": {"http://127.0.0.1:3000": {"conversation_id": "...", "message_id": "..."}}}

Written atomically (temporary file + rename); a missing or unreadable file is an empty state.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

FILENAME = "cli-state.json"


@dataclass(frozen=True, slots=True)
class Position:
    """Where the next turn of a conversation attaches."""

    conversation_id: str
    message_id: str | None


class StateFile:
    """``<home>/cli-state.json``."""

    def __init__(self, home: Path) -> None:
        self.path = home / FILENAME

    def _read(self) -> dict[str, Any]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def last(self, target: str) -> Position | None:
        """The last conversation used on ``target``, if any."""
        entry = (self._read().get("last") or {}).get(target)
        if not isinstance(entry, dict) or not isinstance(entry.get("conversation_id"), str):
            return None
        message_id = entry.get("message_id")
        node = message_id if isinstance(message_id, str) else None
        return Position(entry["conversation_id"], node)

    def remember(self, target: str, position: Position) -> None:
        """Record ``position`` as the last conversation on ``target`` (best effort)."""
        data = self._read()
        last = data.get("last")
        if not isinstance(last, dict):
            last = data["last"] = {}
        last[target] = {
            "conversation_id": position.conversation_id,
            "message_id": position.message_id,
        }
        self._write(data)

    def forget(self, target: str, conversation_id: str) -> None:
        """Drop ``target``'s entry if it points at ``conversation_id`` (it was deleted)."""
        data = self._read()
        last = data.get("last")
        if isinstance(last, dict) and (last.get(target) or {}).get("conversation_id") == (
            conversation_id
        ):
            del last[target]
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cli-state-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
