"""SIGKILL during writes: every order the node acknowledged is on disk and held again
after a restart (issue #15, finding 6; the ledger's own crash test runs in-process)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from market.node.control import ControlError
from market.terms import CommunityTerms
from tests.faults.nodes import Cluster, genesis_community, orders_on_disk

pytestmark = pytest.mark.faults

WRITERS = 8
ACKS_BEFORE_KILL = 60


async def test_orders_acknowledged_before_a_sigkill_survive_the_restart(
    tmp_path: Path, cluster: Cluster
) -> None:
    terms = CommunityTerms()
    (data,), _community = genesis_community(tmp_path, 1, terms, int(time.time()))
    node = cluster.add(data, "127.0.0.1:0")
    slot = terms.first_open_slot(int(time.time())) + terms.slot_s
    acked: set[str] = set()
    enough = asyncio.Event()

    async def writer(n: int) -> None:
        # Until the kill: an order is acknowledged when its id comes back, only then.
        for i in range(10_000):
            try:
                acked.add(await node.client.place_order("sell", 100 + n, 500 + i, slot))
            except (aiohttp.ClientError, OSError, ControlError, TimeoutError):
                return
            if len(acked) >= ACKS_BEFORE_KILL:
                enough.set()

    async with asyncio.timeout(90):
        await cluster.start()
        writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
        await enough.wait()
        await node.kill()  # while the writers are still placing
        await asyncio.gather(*writers)

        on_disk = await orders_on_disk(data)
        assert acked <= set(on_disk), f"lost {len(acked - set(on_disk))} acknowledged orders"

        await cluster.start([node])
        book = {order["order_id"] for order in await node.client.book(slot)}
        assert acked <= book
        # It signs on after its last entry: a new order is accepted, not an equivocation.
        await node.client.place_order("buy", 100, 900, slot)
        status = await node.client.status()
        assert status["counters"].get("equivocations", 0) == 0
        assert await node.stop() == 0, node.log_tail()
