"""Token buckets per key stay in bounded memory, and spoofed keys gain nothing."""

from __future__ import annotations

from market.gossip.ratelimit import RateLimiter


def test_a_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2.0, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert not limiter.allowed("a")
    now[0] = 1.0
    assert limiter.allowed("a") and limiter.allow("a") and not limiter.allow("a")


def test_the_table_is_capped_and_new_keys_share_one_overflow_bucket() -> None:
    """An attacker claiming thousands of addresses gets one burst between them all, not
    one each, and the table never grows past its cap."""
    now = [0.0]
    limiter = RateLimiter(rate=0.001, burst=2.0, clock=lambda: now[0], max_keys=100)
    granted = sum(limiter.allow(f"10.0.{i // 256}.{i % 256}") for i in range(10_000))
    assert len(limiter) == 100
    assert granted == 100 * 1 + 2  # one each for the tracked keys, the overflow's burst
    assert limiter.overflowed == 9_900


def test_a_refilled_bucket_gives_way_to_a_new_key() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=1.0, clock=lambda: now[0], max_keys=2)
    assert limiter.allow("a") and limiter.allow("b")
    now[0] = 5.0  # both refilled: nothing worth keeping
    assert limiter.allow("c")
    assert len(limiter) == 2
    assert limiter.overflowed == 0
