"""Token buckets per key (a member's key, a remote address), in bounded memory.

An attacker on a LAN can claim many addresses, so the table of buckets is capped: a key
that finds it full takes the place of the least recently used bucket if that one has
refilled (it then holds nothing worth keeping), and otherwise shares one overflow
bucket with every other key left out, so that new addresses never bring fresh bursts.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_MAX_KEYS = 4096


class RateLimiter:
    """Allows `rate` requests per second per key, with bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max_keys = max(1, max_keys)
        # key -> (tokens, when they were counted), least recently used first
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        self._overflow = (burst, clock())
        self.overflowed = 0  # keys that found the table full and shared the overflow

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, bucket: tuple[float, float], now: float) -> float:
        tokens, last = bucket
        return min(self._burst, tokens + (now - last) * self._rate)

    def _tokens(self, key: Hashable, now: float) -> tuple[Hashable | None, float]:
        """The bucket key holds (None: the overflow) and its tokens now."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
            return key, self._refilled(bucket, now)
        if len(self._buckets) >= self._max_keys:
            oldest, oldest_bucket = next(iter(self._buckets.items()))
            if self._refilled(oldest_bucket, now) < self._burst:
                self.overflowed += 1
                return None, self._refilled(self._overflow, now)
            del self._buckets[oldest]
        return key, self._burst

    def _store(self, slot: Hashable | None, tokens: float, now: float) -> None:
        if slot is None:
            self._overflow = (tokens, now)
        else:
            self._buckets[slot] = (tokens, now)

    def allow(self, key: Hashable) -> bool:
        """Take one token from key's bucket; False when it is empty."""
        now = self._clock()
        slot, tokens = self._tokens(key, now)
        if tokens < 1.0:
            self._store(slot, tokens, now)
            return False
        self._store(slot, tokens - 1.0, now)
        return True

    def allowed(self, key: Hashable) -> bool:
        """Whether key's bucket holds a token, taking none."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) < self._max_keys:
                return True
            oldest = next(iter(self._buckets.values()))
            if self._refilled(oldest, now) >= self._burst:
                return True
            bucket = self._overflow
        return self._refilled(bucket, now) >= 1.0

    def charge(self, key: Hashable) -> None:
        """Take one token from key's bucket, if it has one (a refusal spends budget)."""
        self.allow(key)

    def retry_after_s(self) -> int:
        """Whole seconds until an empty bucket holds a token again."""
        return max(1, math.ceil(1.0 / self._rate)) if self._rate > 0 else 3600
