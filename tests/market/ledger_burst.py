"""Subprocess for the crash test: appends entries in bursts and prints `ACK <seq>` after
each acknowledged (committed) append, until it is killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from market.ledger.community import Community
from market.ledger.identity import load_or_create_identity
from market.ledger.kinds import Kind, OrderBody, Side
from market.ledger.ledger import Ledger
from tests.market.ledger_helpers import SLOT, clock_ms


async def burst(directory: Path) -> None:
    identity = load_or_create_identity(directory)
    community = Community.load(directory / "community.json")
    ledger = await Ledger.open(directory, community, identity, clock_ms=clock_ms)
    size = 1
    n = 0
    while True:
        items = [
            (Kind.ORDER, OrderBody(SLOT, Side.SELL, 100 + n + i, 1900).encode())
            for i in range(size)
        ]
        entries = await ledger.append_many(items)
        n += size
        sys.stdout.write(f"ACK {entries[-1].seq}\n")
        sys.stdout.flush()
        size = size % 17 + 1


if __name__ == "__main__":
    asyncio.run(burst(Path(sys.argv[1])))
