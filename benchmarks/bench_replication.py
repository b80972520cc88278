"""Replication benchmark: 10 headless node processes on loopback, each configured with
all the others as peers; ENTRIES orders are appended at WRITERS of them as fast as their
control sockets take them, and the clock runs until every node holds every one.

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

NODES = 10
WRITERS = 2
ENTRIES = 400  # in all, ENTRIES // WRITERS at each writer
CLIENTS = 8  # requests in flight per writer


async def _append(node: NodeProcess, count: int, slot: int) -> None:
    left = iter(range(count))

    async def client() -> None:
        for n in left:
            await node.client.place_order("buy", 100 + n, 900, slot)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def _everyone_holds(nodes: list[NodeProcess], targets: dict[str, int]) -> None:
    while True:
        heads = [await node.client.heads() for node in nodes]
        if all(its.get(author, [-1])[0] >= seq for its in heads for author, seq in targets.items()):
            return
        await asyncio.sleep(0.05)


async def main() -> int:
    terms = CommunityTerms()
    with tempfile.TemporaryDirectory(prefix="pfb", dir="/tmp") as tmp:
        root = Path(tmp)
        dirs, _community = genesis_community(root, NODES, terms, int(time.time()))
        cluster = Cluster(root, root)
        nodes = [cluster.add(data, "127.0.0.1:0") for data in dirs]
        slot = terms.first_open_slot(int(time.time())) + terms.slot_s
        try:
            # Ports are known once the nodes listen: start them peerless, then again with
            # every other node as a peer (the data dirs and keys stay the same).
            await cluster.start(signing=False)
            addresses = [(await node.client.status())["address"] for node in nodes]
            for node in nodes:
                await node.stop()
            for node, address in zip(nodes, addresses, strict=True):
                node.listen = address
                node.peers = [other for other in addresses if other != address]
            await cluster.start()
            writers = nodes[:WRITERS]
            start = time.perf_counter()
            await asyncio.gather(*(_append(node, ENTRIES // WRITERS, slot) for node in writers))
            targets: dict[str, int] = {}
            for node in writers:
                me = (await node.client.status())["node_id"]
                targets[me] = (await node.client.heads())[me][0]
            async with asyncio.timeout(120):
                await _everyone_holds(nodes, targets)
            elapsed = time.perf_counter() - start
        finally:
            await cluster.close()
    rate = ENTRIES / elapsed
    print(f"BENCH replication_entries_per_s_{NODES}_nodes {rate:.0f} entries/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
