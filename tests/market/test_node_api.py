"""What hosts see of a node: order book, cancel, rejections, status and peer events."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.ledger.codec import ZERO_HASH, decode_entry
from market.ledger.kinds import Kind, OrderBody
from market.ledger.kinds import Side as LedgerSide
from market.model import Side
from market.node import (
    EquivocationSeen,
    ManualClock,
    OrderRejected,
    OrderRejectedError,
    OrderStatus,
    PeerDown,
    PeerUp,
)
from tests.market.ledger_helpers import ChainWriter
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    make_community,
    mesh,
    run_slot,
    start_household,
    start_neighbourhood,
    wait_until,
)


async def test_a_cancelled_order_stays_in_the_book_but_out_of_the_clearing(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 2)
    slot = T0 + 1800
    seller, buyer = running
    ask = await seller.node.place_order(Side.SELL, 500, 800, slot)
    await buyer.node.place_order(Side.BUY, 500, 1800, slot)
    await seller.node.cancel_order(ask)
    await advance(clock, running, T0 + 60)
    with pytest.raises(OrderRejectedError) as err:
        await buyer.node.cancel_order(ask)
    assert err.value.reason == "not_own_order"
    await run_slot(clock, running, slot)
    book = {order.order_id: order for order in buyer.node.order_book(slot)}
    assert book[ask].status is OrderStatus.CANCELLED and not book[ask].own
    outcome = buyer.node.outcome(slot)
    assert outcome is not None and outcome.result is not None
    assert outcome.result.volume_wh == 0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"energy_wh": 0}, "invalid_energy"),
        ({"price": -1}, "invalid_price"),
        ({"slot": T0 + 1801}, "unaligned_slot"),
        ({"slot": T0 + 900 * 2000}, "too_far"),
        ({"energy_wh": 1.5}, "not_integer"),
    ],
)
async def test_invalid_orders_are_refused_with_a_reason_event(
    tmp_path: Path, running: list[Household], kwargs: dict[str, object], reason: str
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, _ = make_community(tmp_path, 1)
    running.append(await start_household(dirs[0], clock))
    order: dict[str, object] = {"energy_wh": 100, "price": 1000, "slot": T0 + 1800}
    order.update(kwargs)
    with pytest.raises(OrderRejectedError) as err:
        await running[0].node.place_order(Side.BUY, **order)  # type: ignore[arg-type]
    assert err.value.reason == reason
    assert [e.reason for e in running[0].of_type(OrderRejected)] == [reason]
    assert await running[0].node.ledger.count() == 0


async def test_status_reports_peers_ledger_and_sync_and_peer_events(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 3)
    await running[0].node.place_order(Side.SELL, 500, 800, T0 + 1800)
    await advance(clock, running, T0 + 60)
    await wait_until(lambda: len(running[0].of_type(PeerUp)) == 2)
    status = running[0].node.status()
    assert status.members == 3 and status.is_member
    assert status.peers_online == 2
    assert status.ledger_entries == 1
    assert status.last_sync_s_ago is not None and status.last_sync_s_ago < 10
    assert status.address == running[0].node.address

    gone = running.pop()
    await gone.node.stop()
    await wait_until(lambda: bool(running[0].of_type(PeerDown)), 15)
    assert running[0].of_type(PeerDown)[0].url == f"http://{gone.node.address}"


async def test_an_equivocation_is_reported_and_voids_the_cheaters_orders(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 3)
    running.extend([await start_household(data, clock) for data in dirs[:2]])
    mesh(running)
    slot = T0 + 1800
    cheater = ChainWriter(dirs[2].identity(), community)
    cheater.ts = T0 * 1000
    honest_order = cheater.frame(OrderBody(slot, LedgerSide.SELL, 500, 800).encode())
    forged_twin = cheater.frame(
        OrderBody(slot, LedgerSide.SELL, 900, 400).encode(),
        Kind.ORDER,
        seq=1,
        prev=ZERO_HASH,
        advance=False,
    )
    await running[0].node.ledger.ingest(honest_order)
    await running[1].node.ledger.ingest(forged_twin)
    # each node keeps the twin it saw first, so the frontiers never match again
    await wait_until(lambda: all(house.of_type(EquivocationSeen) for house in running))
    for house in running:
        seen = house.of_type(EquivocationSeen)
        assert [e.node_id for e in seen] == [decode_entry(honest_order).author.hex()]
        statuses = {order.status for order in house.node.order_book(slot)}
        assert statuses == {OrderStatus.EQUIVOCATOR}
