"""A clock the test moves by hand: given as ``clock`` to what times a cache (``create_app``,
``KeyStore``, ``AccountPool``), it lets a test pass a TTL without sleeping through it."""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that only move when :meth:`advance` is called."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock does not go back"
        self.now += seconds
