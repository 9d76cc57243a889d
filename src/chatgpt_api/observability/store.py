"""Conversation-store latency: the store times its own operations through :func:`store_timer`.

Each operation is observed in ``chatgpt_api_store_operation_seconds{operation=<name>}``, whether
it succeeds or raises; every operation's series exists from the start (zero until called).
"""

from __future__ import annotations

from prometheus_client import Histogram

from chatgpt_api.store import OPERATIONS, Observe


def store_timer(histogram: Histogram) -> Observe:
    """The ``observe(operation, seconds)`` callback to give :func:`open_store`."""
    children = {name: histogram.labels(name).observe for name in OPERATIONS}

    def observe(operation: str, seconds: float) -> None:
        children[operation](seconds)

    return observe
