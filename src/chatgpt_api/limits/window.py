"""The bucketed sliding window, in process (the Redis Lua scripts implement the same rules).

Time is cut into buckets of ``width = window / buckets`` seconds; bucket ``b`` covers
``[b * width, (b + 1) * width)``. At time ``now`` (current bucket ``cur``) bucket ``b`` still
counts while ``b >= cur - buckets``: its last instant is less than a window old. Each bucket
holds a request count and a character count; the window keeps running totals of both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class Verdict:
    """Result of :meth:`SlidingWindow.try_charge`."""

    allowed: bool
    bucket: int
    retry_after: float = 0.0
    limit: str | None = None
    oversized: bool = False


@dataclass(slots=True)
class SlidingWindow:
    """Request and character counts of one key over the last window."""

    width: float
    buckets: int
    counts: dict[int, list[int]] = field(default_factory=dict)  # bucket -> [requests, chars]
    requests: int = 0
    chars: int = 0

    def current(self, now: float) -> int:
        return math.floor(now / self.width)

    def prune(self, now: float) -> None:
        """Drop buckets that left the window (``counts`` is in ascending bucket order)."""
        oldest_live = self.current(now) - self.buckets
        while self.counts:
            bucket = next(iter(self.counts))
            if bucket >= oldest_live:
                return
            n, c = self.counts.pop(bucket)
            self.requests -= n
            self.chars -= c

    def idle(self, now: float) -> bool:
        self.prune(now)
        return not self.counts

    def try_charge(self, now: float, rpm: int | None, cpm: int | None, chars: int) -> Verdict:
        """Charge one request of ``chars`` characters if both limits allow it."""
        self.prune(now)
        cur = self.current(now)
        if cpm is not None and chars > cpm:
            return Verdict(False, cur, self.width * self.buckets, "chars", oversized=True)
        waits: list[tuple[float, str]] = []
        if rpm is not None and self.requests + 1 > rpm:
            waits.append((self._time_to_free(now, 0, self.requests + 1 - rpm), "requests"))
        if cpm is not None and self.chars + chars > cpm:
            waits.append((self._time_to_free(now, 1, self.chars + chars - cpm), "chars"))
        if waits:
            wait, limit = max(waits)
            return Verdict(False, cur, wait, limit)
        self._add(cur, 1, chars)
        return Verdict(True, cur)

    def adjust(self, now: float, bucket: int, d_requests: int, d_chars: int) -> None:
        """Change an earlier charge; if its bucket already left, charge extra chars now."""
        self.prune(now)
        entry = self.counts.get(bucket)
        if entry is not None:
            new_n, new_c = max(0, entry[0] + d_requests), max(0, entry[1] + d_chars)
            self.requests += new_n - entry[0]
            self.chars += new_c - entry[1]
            entry[0], entry[1] = new_n, new_c
        elif d_chars > 0:
            self._add(self.current(now), 0, d_chars)

    def _add(self, bucket: int, n: int, c: int) -> None:
        entry = self.counts.setdefault(bucket, [0, 0])
        entry[0] += n
        entry[1] += c
        self.requests += n
        self.chars += c

    def _time_to_free(self, now: float, index: int, needed: int) -> float:
        freed = 0
        for bucket, entry in self.counts.items():
            freed += entry[index]
            if freed >= needed:
                return max(0.0, (bucket + 1 + self.buckets) * self.width - now)
        return self.width * self.buckets
