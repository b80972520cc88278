"""Node API benchmark: orders per second that one headless node process (`python -m
market node`) signs, stores (fsynced at commit) and acknowledges through its control
socket, with CLIENTS requests in flight.

Prints only `BENCH <name> <value> <unit>` lines on stdout.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from market.terms import CommunityTerms
from tests.faults.nodes import Cluster, NodeProcess, genesis_community

CLIENTS = 16
WARMUP = 100
ORDERS = 2000


async def _place(node: NodeProcess, count: int, slot: int) -> None:
    left = iter(range(count))

    async def client() -> None:
        for n in left:
            await node.client.place_order("sell", 100 + n % 1000, 500, slot)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def main() -> int:
    terms = CommunityTerms()
    with tempfile.TemporaryDirectory(prefix="pfb", dir="/tmp") as tmp:
        root = Path(tmp)
        (data,), _community = genesis_community(root, 1, terms, int(time.time()))
        cluster = Cluster(root, root)
        node = cluster.add(data, "127.0.0.1:0")
        slot = terms.first_open_slot(int(time.time())) + terms.slot_s
        try:
            await cluster.start()
            await _place(node, WARMUP, slot)
            start = time.perf_counter()
            await _place(node, ORDERS, slot)
            elapsed = time.perf_counter() - start
        finally:
            await cluster.close()
    print(f"BENCH node_orders_per_s {ORDERS / elapsed:.0f} orders/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
