"""Floods against a node: its own place_order while a member floods it with pulls, and
the memory of a real headless node (`python -m market node`) while 1,000 loopback
connections each send a 1 MiB body.

Prints only `BENCH <name> <value> <unit>` lines on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from market.gossip import GossipConfig
from market.gossip.client import GossipClient
from market.gossip.peers import Peer
from market.ledger.community import Community
from market.model import Side
from market.node import Node, NodeConfig
from market.node.datadir import DataDir
from market.terms import CommunityTerms
from tests.faults.flood import body_flood, memory_mb, raise_fd_limit

ORDERS = 40
PULLERS = 4
ATTACK_WANTS = 26_000  # what the attack of issue 15 sent; capped to what a node takes
FLOOD_CONNECTIONS = 1000
FLOOD_BODY = 1 << 20
FLOOD_SOURCES = 250  # 127.0.0.2 ... : an attacker on a LAN claims many addresses
FLOOD_LIMIT_S = 120.0
ROOT = Path(__file__).resolve().parents[1]


async def _place_orders(node: Node, count: int) -> list[float]:
    terms = node.terms
    slot = (int(time.time()) // terms.slot_s + 8) * terms.slot_s
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await node.place_order(Side.BUY, 1000, terms.ceiling, slot)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def _pull_flood(client: GossipClient, peer: Peer, stop: asyncio.Event) -> int:
    wants_max = getattr(GossipConfig(), "pull_max_wants", ATTACK_WANTS)
    wants = [(i.to_bytes(32, "big"), 1) for i in range(min(ATTACK_WANTS, wants_max))]
    pulls = 0
    while not stop.is_set():
        with contextlib.suppress(Exception):
            await client.pull(peer, wants)
            pulls += 1
    return pulls


async def place_order_under_pull_flood(root: Path) -> tuple[float, float]:
    """Median place_order latency (ms) idle, then while a member floods with pulls."""
    data, flooder = DataDir(root / "house"), DataDir(root / "flooder")
    keys = [data.identity().public_key, flooder.identity().public_key]
    community = Community.create("Bench", int(time.time() * 1000), keys, CommunityTerms())
    data.save_community(community)
    config = NodeConfig(data_dir=data.path, catchup_timeout_s=0.0)
    node = await Node.open(config)
    await node.start()
    try:
        idle = statistics.median(await _place_orders(node, ORDERS))
        async with aiohttp.ClientSession() as session:
            client = GossipClient(
                session,
                flooder.identity(),
                community.community_id,
                GossipConfig(),
                1 << 22,
                is_member=set(keys).__contains__,
            )
            stop = asyncio.Event()
            # a member: its sealed pulls pass authentication, to the node's own key
            peer = Peer(f"http://{node.address}", node.identity.public_key)
            pullers = [asyncio.create_task(_pull_flood(client, peer, stop)) for _ in range(PULLERS)]
            await asyncio.sleep(0.5)  # the flood is under way
            flooded = statistics.median(await _place_orders(node, ORDERS))
            stop.set()
            pulls = sum(await asyncio.gather(*pullers))
            print(f"{pulls} pulls served during the orders", file=sys.stderr)
    finally:
        await node.stop()
    return idle, flooded


async def _flood(port: int) -> int:
    body = os.urandom(FLOOD_BODY)
    async with asyncio.timeout(FLOOD_LIMIT_S):
        statuses = await body_flood(port, FLOOD_CONNECTIONS, body, FLOOD_SOURCES)
    return sum(n for status, n in statuses.items() if status)


async def node_rss_under_flood(root: Path) -> tuple[float, float, float]:
    """A headless node's RSS before, at peak (VmHWM) and after a 1,000-connection flood."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    log_path = root / "node.log"
    command = [sys.executable, "-m", "market", "node", "--data-dir", str(root / "node")]
    command += ["--listen", f"127.0.0.1:{port}", "--create", "Flood", "--no-zeroconf"]
    with log_path.open("w") as log:
        node = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, stopped below
            command, stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
    try:
        deadline = time.monotonic() + 60
        while "node running" not in log_path.read_text():
            if time.monotonic() > deadline or node.poll() is not None:
                raise RuntimeError(f"the node did not start: {log_path.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        before = memory_mb(node.pid)["VmRSS"]
        answered = await _flood(port)
        print(f"{answered} of {FLOOD_CONNECTIONS} flooding connections answered", file=sys.stderr)
        await asyncio.sleep(1.0)
        memory = memory_mb(node.pid)
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
    return before, memory["VmHWM"], memory["VmRSS"]


async def main() -> None:
    raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        idle, flooded = await place_order_under_pull_flood(Path(tmp) / "pull")
        print(f"BENCH place_order_ms {idle:.1f} ms", flush=True)
        print(f"BENCH place_order_ms_under_pull_flood {flooded:.1f} ms", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        before, peak, after = await node_rss_under_flood(Path(tmp))
        print(f"BENCH node_rss_mb_before_flood {before:.0f} MB", flush=True)
        print(f"BENCH node_rss_mb_under_flood {peak:.0f} MB", flush=True)
        print(f"BENCH node_rss_mb_after_flood {after:.0f} MB", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
