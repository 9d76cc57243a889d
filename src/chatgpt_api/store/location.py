"""Where the conversation store lives by default: a SQLite file under the data directory.

Plain strings only (no SQLAlchemy), so a service with the store off can name the database
without loading the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

DATABASE_FILENAME: Final = "chatgpt-api.db"
SQLITE_DRIVER: Final = "sqlite+aiosqlite"


def default_database_url(home: Path) -> str:
    """The SQLite database under the data directory: ``sqlite+aiosqlite:///<home>/chatgpt-api.db``."""
    path = home.expanduser() / DATABASE_FILENAME
    return f"{SQLITE_DRIVER}:///{path}"
