"""Per-peer token buckets."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Allows `rate` requests per second per key, with bursts up to `burst`."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def allow(self, key: bytes) -> bool:
        """Take one token from key's bucket; False when it is empty."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
