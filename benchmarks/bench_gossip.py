"""Gossip benchmark: time for an entry appended at one of 20 loopback nodes to reach
all of them, with the default push and pull periods; and the cost of the encrypted
transport: anti-entropy rounds that move nothing (a frontier exchange each) per second
and entries per second pulled between two nodes, and the crypto of one exchange.

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

from market.gossip.auth import RequestVerifier, seal_request
from market.gossip.config import GossipConfig
from market.gossip.peers import PeerTable
from market.gossip.sealed import decode_reply, encode_reply
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


PAIR_ENTRIES = 20000
IDLE_ROUNDS = 2000


async def pair(directory: Path) -> tuple[float, float]:
    """Two nodes, gossip not running: idle rounds per second, then entries per second
    pulled by one anti-entropy exchange after the other node wrote PAIR_ENTRIES."""
    ids = [Identity(i.to_bytes(32, "big")) for i in (1, 2)]
    community = Community.create("bench", T0_MS, [i.public_key for i in ids])
    # no rate limit: the figure is the transport's cost, not the limiter's pace
    config = GossipConfig(rate_per_s=1e9, rate_burst=1e9)
    server, client = [
        await Node.start(directory / f"p{i}", ids[i], community, config) for i in (0, 1)
    ]
    for node in (server, client):
        await node.gossip.stop()
    try:
        peer = client.gossip.peers.add(server.url)
        await client.gossip.sync_with(peer)
        start = time.monotonic()
        for _ in range(IDLE_ROUNDS):
            await client.gossip.sync_with(peer)
        idle = IDLE_ROUNDS / (time.monotonic() - start)
        bodies = [
            (Kind.ORDER, OrderBody(SLOT, Side.SELL, 1000 + i, 1952).encode())
            for i in range(PAIR_ENTRIES)
        ]
        for chunk in range(0, PAIR_ENTRIES, 500):
            await server.ledger.append_many(bodies[chunk : chunk + 500])
        start = time.monotonic()
        pulled = 0
        while pulled < PAIR_ENTRIES:
            pulled += (await client.gossip.sync_with(peer)).pulled
        rate = PAIR_ENTRIES / (time.monotonic() - start)
    finally:
        await server.stop()
        await client.stop()
    return idle, rate


def seal_open_ms(size: int, rounds: int) -> float:
    """Milliseconds to seal a request of `size` bytes, check and open it, and seal and
    open an empty reply: the transport's crypto for one exchange, both sides (best of 3)."""
    sender, recipient = Identity(bytes(32)), Identity(bytes(31) + b"\x01")
    community_id = bytes(32)
    verifier = RequestVerifier(recipient, community_id, lambda _key: True, 30.0, 10**7)
    plaintext = bytes(size)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            sealed = seal_request(
                sender, recipient.public_key, "POST", "/p2p/v2/pull", community_id, plaintext
            )
            verified = verifier.verify("POST", "/p2p/v2/pull", sealed.headers, len(sealed.body))
            verified.channel.open_request(sealed.body)
            reply = verified.channel.seal_reply(encode_reply(b"", now_ms=0))
            decode_reply(sealed.channel.open_reply(reply))
        best = min(best, (time.perf_counter() - start) / rounds * 1000)
    return best


def main() -> None:
    """Run the convergence and transport benchmarks."""
    with tempfile.TemporaryDirectory(prefix="bench-gossip-") as directory:
        times = asyncio.run(run(Path(directory)))
        idle, rate = asyncio.run(pair(Path(directory)))
    print(f"BENCH gossip_converge_s_20_nodes {statistics.median(times):.3f} s")
    print(f"BENCH gossip_converge_s_20_nodes_max {max(times):.3f} s")
    print(f"BENCH gossip_idle_rounds_per_s {idle:.0f} rounds/s")
    print(f"BENCH gossip_pull_entries_per_s {rate:.0f} entries/s")
    print(f"BENCH gossip_seal_open_ms_empty {seal_open_ms(0, 300):.3f} ms")
    print(f"BENCH gossip_seal_open_ms_512k {seal_open_ms(512 * 1024, 30):.3f} ms")


if __name__ == "__main__":
    main()
