"""A node whose data dir is on a disk that fills up (a small tmpfs): `place_order`
answers the documented `ledger` reason, never a server error; the node keeps running,
and takes orders again once there is room (issue #15, findings 4 and 6)."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest

from market.node.control import ControlError
from tests.faults.nodes import (
    FAST_TERMS,
    SPEED,
    Cluster,
    SimClock,
    genesis_community,
    orders_on_disk,
    wait_for,
)
from tests.faults.orders import next_slot

pytestmark = pytest.mark.faults

MAX_ORDERS = 5000


def _fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC
    return filler


async def test_a_full_disk_refuses_orders_with_the_ledger_reason_and_the_node_recovers(
    cluster: Cluster, small_disk: Path
) -> None:
    clock = SimClock.now()
    terms = FAST_TERMS
    (data,), _community = genesis_community(small_disk, 1, terms, clock.start_s)
    node = cluster.add(data, "127.0.0.1:0", sim_clock=clock)
    slot = next_slot(terms, clock) + 10 * terms.slot_s  # its gate stays open throughout
    async with asyncio.timeout(90):
        await cluster.start()
        accepted = {await node.client.place_order("sell", 100, 500, slot)}
        filler = await asyncio.to_thread(_fill, small_disk)
        refusal = None
        for n in range(MAX_ORDERS):  # the first few may still fit in free pages
            try:
                accepted.add(await node.client.place_order("sell", 100 + n, 500, slot))
            except ControlError as err:
                refusal = err
                break
        assert refusal is not None, "the full disk took every order"
        assert (refusal.status, refusal.reason) == (409, "ledger"), refusal
        assert "full" in refusal.detail
        # It runs on through a seal time with the disk still full, and says so.
        seals = (await node.client.status())["counters"]["seals"]
        await asyncio.sleep(2 * terms.slot_s / SPEED)
        status = await node.client.status()
        assert status["chain"] == "ready"
        assert status["counters"]["seals"] == seals  # it could not write them
        node.check_alive()

        filler.unlink()

        async def takes_orders() -> bool:
            try:
                accepted.add(await node.client.place_order("buy", 200, 900, slot))
            except ControlError as err:
                assert err.reason == "ledger", err
                return False
            return True

        await wait_for(takes_orders, 20, "the node to take orders again")

        async def seals_again() -> bool:
            return bool((await node.client.status())["counters"]["seals"] > seals)

        await wait_for(seals_again, 3 * terms.slot_s / SPEED, "the node to seal again")
        assert accepted <= {order["order_id"] for order in await node.client.book(slot)}
        assert await node.stop() == 0, node.log_tail()
    assert accepted <= set(await orders_on_disk(data))
