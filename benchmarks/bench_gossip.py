"""Gossip benchmark: time for an entry appended at one of 20 loopback nodes to reach
all of them, with the default push and pull periods.

Prints only `BENCH <name> <value> <unit>` lines on stdout.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from market.gossip.config import GossipConfig
from market.gossip.peers import PeerTable
from market.gossip.server import start_site
from market.gossip.service import Gossip
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody, Side
from market.ledger.ledger import Ledger

NODES = 20
TRIALS = 5
T0_MS = 1_764_000_000_000
# An hour ahead of the wall clock the ledgers run on: the gate of its slot is open.
SLOT = (int(time.time()) // 900 + 4) * 900


class Node:
    """One node: ledger, server on a free loopback port, gossip."""

    def __init__(
        self, ledger: Ledger, gossip: Gossip, session: aiohttp.ClientSession, runner: web.AppRunner
    ) -> None:
        self.ledger = ledger
        self.gossip = gossip
        self.session = session
        self.runner = runner
        self.url = ""

    @classmethod
    async def start(
        cls, directory: Path, identity: Identity, community: Community, config: GossipConfig
    ) -> Node:
        """Open the ledger, serve it, start gossip."""
        ledger = await Ledger.open(directory, community, identity)
        session = aiohttp.ClientSession()
        gossip = Gossip(ledger, identity, session, PeerTable(), config)
        runner, port = await start_site(gossip.server.make_app(), "127.0.0.1", 0)
        node = cls(ledger, gossip, session, runner)
        node.url = f"http://127.0.0.1:{port}"
        await gossip.start()
        return node

    async def stop(self) -> None:
        """Stop everything."""
        await self.gossip.stop()
        await self.runner.cleanup()
        await self.session.close()
        await self.ledger.close()


async def reached_all(nodes: list[Node], entry_hash: bytes) -> bool:
    """True when every node holds the entry."""
    for node in nodes:
        if await node.ledger.get(entry_hash) is None:
            return False
    return True


async def run(directory: Path) -> list[float]:
    """Start 20 nodes in a full mesh, append TRIALS entries at rotating nodes."""
    ids = [Identity(i.to_bytes(32, "big")) for i in range(1, NODES + 1)]
    community = Community.create("bench", T0_MS, [i.public_key for i in ids])
    config = GossipConfig()
    nodes = [await Node.start(directory / f"n{i}", ids[i], community, config) for i in range(NODES)]
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.gossip.peers.add(other.url)
    times: list[float] = []
    try:
        await asyncio.sleep(0.5)
        for trial in range(TRIALS):
            origin = nodes[(trial * 7) % NODES]
            body = OrderBody(SLOT, Side.SELL, 1000 + trial, 1952).encode()
            start = time.monotonic()
            entry = await origin.ledger.append(Kind.ORDER, body)
            while not await reached_all(nodes, entry.hash):
                if time.monotonic() - start > 30:
                    raise TimeoutError("entry did not reach every node in 30 s")
                await asyncio.sleep(0.005)
            times.append(time.monotonic() - start)
            print(f"trial {trial}: {times[-1]:.3f} s", file=sys.stderr)
    finally:
        for node in nodes:
            await node.stop()
    return times


def main() -> None:
    """Run the convergence benchmark."""
    with tempfile.TemporaryDirectory(prefix="bench-gossip-") as directory:
        times = asyncio.run(run(Path(directory)))
    print(f"BENCH gossip_converge_s_20_nodes {statistics.median(times):.3f} s")
    print(f"BENCH gossip_converge_s_20_nodes_max {max(times):.3f} s")


if __name__ == "__main__":
    main()
