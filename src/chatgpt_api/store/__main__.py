"""``python -m chatgpt_api.store``: upgrade one database's schema, then exit.

The serving process runs this as a short-lived step when its database is behind, so that it
never imports Alembic itself (see :mod:`.migrate`). The database URL is read from the first
line of standard input (never the command line, where others could read a password); the one
line on standard output is JSON: ``{"before": ..., "after": ...}`` (the revisions), or
``{"unavailable": reason}`` / ``{"error": message}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from chatgpt_api.errors import ServiceError
from chatgpt_api.store.errors import StoreUnavailable
from chatgpt_api.store.migrate import upgrade_database


def main() -> int:
    url = sys.stdin.readline().strip()
    try:
        before, after = asyncio.run(upgrade_database(url))
    except StoreUnavailable as exc:
        print(json.dumps({"unavailable": exc.reason}), flush=True)
        return 1
    except ServiceError as exc:
        print(json.dumps({"error": exc.message}), flush=True)
        return 1
    print(json.dumps({"before": before, "after": after}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
