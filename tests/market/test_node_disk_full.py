"""A full disk is a documented refusal, not a crash (issue #15, finding 4): the order is
refused with reason `ledger`, the seal that cannot be written is counted, and the node
goes on and trades again once there is room."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.model import Side
from market.node import OrderRejectedError
from market.node.node import Node
from tests.market.node_harness import T0, Household, advance, run_slot, start_neighbourhood


async def _set_room(node: Node, pages: int | None) -> None:
    """Make the node's database as full as a disk with no room left (SQLITE_FULL)."""
    store = node.ledger._store

    def limit() -> None:
        (count,) = store._conn.execute("PRAGMA page_count").fetchone()
        store._conn.execute(f"PRAGMA max_page_count = {pages or count}")

    await node.ledger._run(limit)


async def test_a_full_disk_refuses_orders_cleanly_and_the_node_goes_on(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 3)
    full = running[0]
    await _set_room(full.node, None)
    with pytest.raises(OrderRejectedError) as err:
        for n in range(200):  # until the last free page is used up
            await full.node.place_order(Side.SELL, 500 + n, 900, T0 + 1800)
    assert err.value.reason == "ledger"
    assert "full" in err.value.detail
    # It cannot store its neighbours' entries either: the others go on without it.
    for t in (full.node.terms.seal_time(T0 + 900), T0 + 900):
        await advance(clock, running[1:], t)
        await advance(clock, [full], t)
    status = full.node.status()
    assert status.counters["append_failures"] >= 1  # its seal could not be written
    assert status.counters["clock_faults"] == 0
    # The status says so (Home Assistant raises a repair issue from it).
    assert status.fault is not None
    assert status.fault.startswith("writing the ledger: StorageError: ")
    assert "database or disk is full" in status.fault
    assert running[1].node.outcome(T0 + 900) is not None

    await _set_room(full.node, 1_000_000)  # room again
    await full.node.place_order(Side.SELL, 400, 900, T0 + 2700)
    await running[1].node.place_order(Side.BUY, 400, 1500, T0 + 2700)
    for slot in (T0 + 1800, T0 + 2700):
        await run_slot(clock, running, slot)
    outcome = full.node.outcome(T0 + 2700)
    assert outcome is not None and outcome.result is not None
    assert outcome.result.volume_wh == 400
    assert full.node.status().fault is None  # it stores and syncs again: no fault left
