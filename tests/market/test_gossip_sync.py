"""Real nodes on loopback: convergence, catch-up, partitions and equivocation."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from market.gossip.peers import Peer, PeerTable
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.kinds import Kind
from tests.market.ledger_helpers import ChainWriter, community_of, identities, order
from tests.market.ledger_nodes import (
    FAST,
    Node,
    connect,
    converged,
    start_node,
    store_digest,
    wait_until,
)


@pytest.fixture
async def stop_later() -> AsyncIterator[list[Node]]:
    nodes: list[Node] = []
    yield nodes
    for node in nodes:
        await node.stop()


async def _nodes(
    tmp_path: Path, count: int, stop_later: list[Node], extra: list[Identity] | None = None
) -> tuple[list[Node], Community]:
    ids = identities(count)
    community = community_of(ids + (extra or []))
    nodes = [await start_node(tmp_path / f"n{i}", ids[i], community) for i in range(count)]
    stop_later.extend(nodes)
    return nodes, community


async def test_three_nodes_appending_concurrently_converge(
    tmp_path: Path, stop_later: list[Node]
) -> None:
    nodes, _ = await _nodes(tmp_path, 3, stop_later)
    connect(nodes)
    rng = random.Random(7)

    async def writer(node: Node) -> None:
        for _ in range(20):
            size = rng.randint(1, 5)
            await node.ledger.append_many([(Kind.ORDER, order(100 + i)) for i in range(size)])
            await asyncio.sleep(rng.uniform(0, 0.02))

    await asyncio.gather(*(writer(node) for node in nodes))
    await wait_until(lambda: converged(nodes))
    digests = [await store_digest(node) for node in nodes]
    assert digests[0] == digests[1] == digests[2]
    assert len(digests[0]) == sum(
        [(await n.ledger.frontier())[n.identity.public_key][0] for n in nodes]
    )
    for node in nodes:
        # Pushes may overtake each other (a gap, repaired by anti-entropy); nothing else
        # may be refused between honest nodes.
        refused = {k for k in node.ledger.counters() if k.startswith("rejected_")}
        assert refused <= {"rejected_seq"}


async def test_node_offline_during_1000_entries_catches_up(
    tmp_path: Path, stop_later: list[Node]
) -> None:
    ids = identities(3)
    community = community_of(ids)
    a = await start_node(tmp_path / "a", ids[0], community)
    b = await start_node(tmp_path / "b", ids[1], community)
    stop_later.extend([a, b])
    connect([a, b])
    for start in range(0, 1000, 100):
        await a.ledger.append_many([(Kind.ORDER, order(1 + start + i)) for i in range(100)])
    await wait_until(lambda: converged([a, b]))
    c = await start_node(tmp_path / "c", ids[2], community)
    stop_later.append(c)
    c.gossip.peers.add(b.url, b.identity.public_key)  # it knows only b
    took = await wait_until(lambda: converged([a, b, c]), limit_s=30)
    assert await c.ledger.count() == 1000
    assert took < 15


async def test_partition_that_heals_converges(tmp_path: Path, stop_later: list[Node]) -> None:
    nodes, _ = await _nodes(tmp_path, 4, stop_later)
    a, b, c, d = nodes
    connect([a, b])
    connect([c, d])
    for node in nodes:
        await node.ledger.append_many([(Kind.ORDER, order(10 + i)) for i in range(30)])
    await wait_until(lambda: converged([a, b]))
    await wait_until(lambda: converged([c, d]))
    assert await store_digest(a) != await store_digest(c)
    a.gossip.peers.add(c.url, c.identity.public_key)  # one link heals the partition
    await wait_until(lambda: converged(nodes))
    assert len(await store_digest(d)) == 120


async def test_equivocating_author_is_detected_by_every_node(
    tmp_path: Path, stop_later: list[Node]
) -> None:
    cheater = identities(1, base=90)[0]
    nodes, community = await _nodes(tmp_path, 4, stop_later, extra=[cheater])
    a, b, c, d = nodes
    connect([a, b])
    connect([c, d])
    common = ChainWriter(cheater, community)
    shared = common.frames(2)
    fork = ChainWriter(cheater, community)
    fork.seq, fork.prev, fork.ts = common.seq, common.prev, common.ts
    left = common.frame(order(energy_wh=111))
    right = fork.frame(order(energy_wh=222))
    assert (await a.ledger.ingest(shared + left)).accepted
    assert (await c.ledger.ingest(shared + right)).accepted
    await wait_until(lambda: converged([a, b]))
    await wait_until(lambda: converged([c, d]))
    for node in nodes:
        assert await node.ledger.equivocations() == []
    a.gossip.peers.add(c.url, c.identity.public_key)

    async def everyone_knows() -> bool:
        for node in nodes:
            proofs = await node.ledger.equivocations()
            if [(p.author, p.seq) for p in proofs] != [(cheater.public_key, 3)]:
                return False
        return True

    await wait_until(everyone_knows)


async def test_dead_peer_is_backed_off_and_others_still_served(
    tmp_path: Path, stop_later: list[Node]
) -> None:
    nodes, _ = await _nodes(tmp_path, 2, stop_later)
    a, b = nodes
    connect([a, b])
    dead = a.gossip.peers.add("http://127.0.0.1:9")  # discard port: nothing listens
    await a.ledger.append(Kind.ORDER, order())
    await wait_until(lambda: converged([a, b]))

    async def dead_backed_off() -> bool:
        return dead.failures >= 2

    await wait_until(dead_backed_off)
    assert not dead.alive
    assert a.gossip.peers.all()[0].alive


def test_peer_backoff_grows_and_resets() -> None:
    now = [100.0]
    table = PeerTable(backoff_base_s=1.0, backoff_max_s=8.0, clock=lambda: now[0])
    peer = table.add("http://127.0.0.1:1/")
    delays = []
    for _ in range(6):
        table.mark_failed(peer)
        delays.append(peer.next_attempt - now[0])
    assert all(0.5 * min(8, 2**i) <= d <= min(8, 2**i) for i, d in enumerate(delays))
    assert table.due() == []
    now[0] += 9
    assert table.due() == [peer]
    table.mark_ok(peer)
    assert peer.alive and peer.next_attempt == 0.0


async def test_anti_entropy_alone_repairs_lost_pushes(
    tmp_path: Path, stop_later: list[Node]
) -> None:
    """With every push lost (fanout 0), the periodic pull still converges the nodes."""
    ids = identities(3)
    community = community_of(ids)
    no_push = replace(FAST, fanout=0, pull_interval_s=0.1)
    nodes = [await start_node(tmp_path / f"n{i}", ids[i], community, no_push) for i in range(3)]
    stop_later.extend(nodes)
    connect(nodes)
    for node in nodes:
        await node.ledger.append_many([(Kind.ORDER, order(1 + i)) for i in range(10)])
    await wait_until(lambda: converged(nodes))
    assert all(node.gossip.counters()["pushes"] == 0 for node in nodes)
    assert all(node.gossip.counters()["syncs"] > 0 for node in nodes)
    assert len(await store_digest(nodes[0])) == 30


@pytest.mark.parametrize("b_sends", ["push", "pull_by_url"])
async def test_mixed_forward_batch_skips_each_entrys_own_origin(
    tmp_path: Path, stop_later: list[Node], b_sends: str
) -> None:
    """x forwards, in one batch, entries from a and entries from b: each goes to the peer
    that lacks it and never back to the peer it came from, whichever way b's arrived
    (pushed by b, or pulled from b known by its address only)."""
    ids = identities(3)
    community = community_of(ids)
    # x gathers a's and b's entries into one forward batch, then pushes to both peers
    # (fanout 2, one round); no anti-entropy round moves anything in between.
    slow = replace(FAST, push_delay_s=0.5, pull_interval_s=3600, pull_idle_max_s=3600)
    x = await start_node(tmp_path / "x", ids[0], community, replace(slow, push_on_sync=False))
    a = await start_node(tmp_path / "a", ids[1], community, run_gossip=False)
    b = await start_node(tmp_path / "b", ids[2], community, run_gossip=False)
    stop_later.extend([x, a, b])
    x.gossip.peers.add(a.url, a.identity.public_key)
    b_key = b.identity.public_key if b_sends == "push" else None
    peer_b = x.gossip.peers.add(b.url, b_key)
    await a.ledger.append_many([(Kind.ORDER, order(10 + i)) for i in range(3)])
    await b.ledger.append_many([(Kind.ORDER, order(20 + i)) for i in range(4)])

    async def frames(node: Node) -> bytes:
        return b"".join(entry.raw for entry in await node.ledger.entries())

    assert (await a.gossip.client.push(Peer(x.url), await frames(a))).accepted == 3
    if b_sends == "push":
        assert (await b.gossip.client.push(Peer(x.url), await frames(b))).accepted == 4
    else:
        assert (await x.gossip.sync_with(peer_b)).pulled == 4

    async def a_and_b_hold_everything() -> bool:
        return await a.ledger.count() == 7 and await b.ledger.count() == 7

    await wait_until(a_and_b_hold_everything, limit_s=10)
    # Each peer got only the other's entries: nothing came back to where it came from.
    assert a.ledger.counters().get("duplicate", 0) == 0
    assert b.ledger.counters().get("duplicate", 0) == 0
    assert x.gossip.counters()["pushes"] == 2
