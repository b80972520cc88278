"""Real gossip nodes on 127.0.0.1 for the multi-node tests and the benchmark."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from market.gossip.config import GossipConfig, LimitsConfig
from market.gossip.guard import ConnectionGuard
from market.gossip.peers import PeerTable
from market.gossip.server import start_site
from market.gossip.service import Gossip
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.ledger import Ledger
from tests.market.ledger_helpers import clock_ms

# Anti-entropy never idles beyond 0.5 s, as in the other harnesses. At the production
# pace (rounds doubling up to 10 s, one random peer each) a link a test adds, or a dead
# peer to try again, could wait for two rounds or more: past the tests' 20 s.
# On loopback every peer (and every test client) connects from 127.0.0.1.
LOOPBACK_LIMITS = LimitsConfig(max_connections_per_address=256)
FAST = GossipConfig(
    push_delay_s=0.01,
    pull_interval_s=0.2,
    pull_idle_max_s=0.5,
    backoff_base_s=0.1,
    backoff_max_s=1.0,
    request_timeout_s=5.0,
    limits=LOOPBACK_LIMITS,
)


@dataclass
class Node:
    """One running node: ledger, HTTP server and gossip."""

    identity: Identity
    ledger: Ledger
    gossip: Gossip
    session: aiohttp.ClientSession
    runner: web.AppRunner
    url: str

    async def stop(self) -> None:
        """Stop gossip, the server, the session and the ledger."""
        await self.gossip.stop()
        await self.runner.cleanup()
        await self.session.close()
        await self.ledger.close()


async def start_node(
    directory: Path,
    identity: Identity,
    community: Community,
    config: GossipConfig = FAST,
    *,
    run_gossip: bool = True,
    synchronous: str = "NORMAL",
) -> Node:
    """Open a ledger in directory and serve it on a free loopback port."""
    ledger = await Ledger.open(
        directory, community, identity, synchronous=synchronous, clock_ms=clock_ms
    )
    session = aiohttp.ClientSession()
    peers = PeerTable(config.backoff_base_s, config.backoff_max_s)
    gossip = Gossip(ledger, identity, session, peers, config)
    guard = ConnectionGuard(config.limits)
    runner, port = await start_site(gossip.server.make_app(), "127.0.0.1", 0, guard)
    if run_gossip:
        await gossip.start()
    return Node(identity, ledger, gossip, session, runner, f"http://127.0.0.1:{port}")


def connect(nodes: Sequence[Node]) -> None:
    """Make every node a peer of every other."""
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.gossip.peers.add(other.url, other.identity.public_key)


async def store_digest(node: Node) -> frozenset[bytes]:
    """The set of entry hashes a node holds."""
    return frozenset(entry.hash for entry in await node.ledger.entries())


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], limit_s: float = 20.0, period: float = 0.05
) -> float:
    """Poll predicate until true; returns the seconds it took, raises on timeout."""
    start = time.monotonic()
    while not await predicate():
        if time.monotonic() - start > limit_s:
            raise TimeoutError(f"condition not met within {limit_s} s")
        await asyncio.sleep(period)
    return time.monotonic() - start


async def converged(nodes: Sequence[Node]) -> bool:
    """True when all nodes hold the same frontier."""
    frontiers = [await node.ledger.frontier() for node in nodes]
    return all(frontier == frontiers[0] for frontier in frontiers[1:])
