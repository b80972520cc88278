"""Time `uniform` clearing against Python's sorted() over the same orders.

Prints `BENCH <name> <value> <unit>` lines on stdout; progress goes to stderr.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from collections.abc import Callable
from functools import partial

from market.auction import ClearingParams, clear
from market.model import Order, Side

SIZES: tuple[tuple[str, int], ...] = (
    ("1k", 1_000),
    ("10k", 10_000),
    ("100k", 100_000),
    ("1m", 1_000_000),
)
PARAMS = ClearingParams(mechanism="uniform", floor=400, ceiling=1952)


def make_book(n: int, seed: int) -> list[Order]:
    """A realistic book: half bids, half asks, prices around the feed-in/retail band."""
    rng = random.Random(seed)
    orders = []
    for index in range(n):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        centre = 1300 if side is Side.BUY else 1000
        orders.append(
            Order(
                id=f"{rng.getrandbits(64):016x}{index:08x}",
                author=f"household-{rng.randrange(1000)}",
                slot=1_764_000_000,
                side=side,
                energy_wh=rng.randint(1, 5000),
                price=max(0, int(rng.gauss(centre, 300))),
            )
        )
    return orders


def sort_key(order: Order) -> tuple[int, str]:
    """The key a deterministic clearing must order by: limit, then id."""
    return (order.price, order.id)


def best_time(action: Callable[[], object], repeats: int) -> float:
    """Fastest of `repeats` runs, with the garbage collector off while timing."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            action()
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def main() -> int:
    """Run the benchmark and print BENCH lines."""
    for name, n in SIZES:
        orders = make_book(n, seed=n)
        repeats = 5 if n <= 100_000 else 2
        clear_s = best_time(partial(clear, orders, PARAMS), repeats)
        sort_s = best_time(partial(sorted, orders, key=sort_key), repeats)
        print(f"{name}: clear {clear_s:.4f} s, sorted {sort_s:.4f} s", file=sys.stderr)
        print(f"BENCH auction_clear_s_{name} {clear_s:.6f} s")
        if name == "100k":
            print(f"BENCH auction_ratio_100k {clear_s / sort_s:.3f} x")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
