"""Latency, resets and flipped bytes on every link (a userspace relay between loopback
nodes): the community still converges, and no node holds a value nobody placed
(issue #15, finding 6)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.faults.nodes import (
    FAST_TERMS,
    SPEED,
    Cluster,
    SimClock,
    genesis_community,
    wait_converged,
)
from tests.faults.orders import Placed, check_held_intact, next_slot, place_round
from tests.faults.relay import Damage, Relay

pytestmark = pytest.mark.faults

NODES = 3
# Every node listens on 127.0.0.1 and is reached only through its relay on 127.0.0.2.
NODE_HOST = "127.0.0.1"
RELAY_HOST = "127.0.0.2"
BAD_LINK = Damage(delay_s=0.03, jitter_s=0.05, reset_rate=0.5, reset_within=4096, flip_rate=0.02)
ROUNDS = 3


async def test_nodes_behind_bad_links_converge_on_the_orders_placed_and_nothing_else(
    tmp_path: Path, cluster: Cluster
) -> None:
    clock = SimClock.now()
    dirs, _community = genesis_community(tmp_path, NODES, FAST_TERMS, clock.start_s)
    relays = [Relay(RELAY_HOST, BAD_LINK, seed=index) for index in range(NODES)]
    try:
        for relay in relays:
            await relay.start()
        nodes = [
            cluster.add(
                data,
                f"{NODE_HOST}:0",
                advertise=RELAY_HOST,
                sim_clock=clock,
                peers=[other.address for other in relays if other is not relay],
            )
            for data, relay in zip(dirs, relays, strict=True)
        ]
        async with asyncio.timeout(120):
            await cluster.start(signing=False)  # they sign once a peer answers
            for node, relay in zip(nodes, relays, strict=True):
                address = (await node.client.status())["address"]
                relay.target = (NODE_HOST, int(address.rsplit(":", 1)[1]))
            await cluster.ready()
            placed: dict[str, Placed] = {}
            slots: list[int] = []
            for _ in range(ROUNDS):
                slots.append(next_slot(FAST_TERMS, clock))
                placed |= await place_round(nodes, slots[-1])
                await asyncio.sleep(FAST_TERMS.slot_s / SPEED)
            await wait_converged(nodes, slots, 60)
            await check_held_intact(nodes, placed)
            books = [await node.client.book(slot) for node in nodes for slot in slots]
    finally:
        for relay in relays:
            await relay.close()
    # No node holds an order nobody placed (a damaged frame is refused, never stored).
    assert {order["order_id"] for book in books for order in book} == set(placed)
    # The links were bad: connections were reset and bytes flipped on the way.
    counts = {key: sum(relay.counts[key] for relay in relays) for key in relays[0].counts}
    assert counts["resets"] > 0, counts
    assert counts["flips"] > 0, counts
