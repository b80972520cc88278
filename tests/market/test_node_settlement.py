"""Four real nodes settle a traded slot on their signed readings and agree on it (issue
#16, point 3): the same seal everywhere, allocations reconciling with the meters to the
Wh and with the clearing to the tick, and a withheld or late reading leading to the same
documented outcome on every node."""

from __future__ import annotations

from pathlib import Path

from market.model import Side
from market.node.events import SlotCleared, SlotSettled
from market.settlement import HouseholdSettlement
from market.settlement.records import SettledSlot, SettleState
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    mesh,
    partition,
    run_slot,
    start_household,
    start_neighbourhood,
    wait_until,
)

SLOT = T0 + 2 * 900
# (side, energy, price) per household: two PV sellers, two buyers
ORDERS = (
    (Side.SELL, 800, 900),
    (Side.SELL, 600, 1100),
    (Side.BUY, 700, 1800),
    (Side.BUY, 500, 1500),
)
# what each meter counts over the slot: (import Wh, export Wh)
METERS = ((0, 500), (20, 900), (1200, 0), (300, 0))


async def _trade_and_read(
    running: list[Household], clock: object, *, read: set[int], late: set[int] = frozenset()
) -> None:
    for house, (side, energy, price) in zip(running, ORDERS, strict=True):
        await house.node.place_order(side, energy, price, SLOT)
    await run_slot(clock, running, SLOT)  # type: ignore[arg-type]
    for i in read | late:
        running[i].node.record_meter_index(SLOT + 1, import_wh=10_000, export_wh=5_000)
    await advance(clock, running, SLOT + 901)  # type: ignore[arg-type]
    for i in read:
        imported, exported = METERS[i]
        node = running[i].node
        node.record_meter_index(SLOT + 901, import_wh=10_000 + imported, export_wh=5_000 + exported)
    await wait_until(lambda: all(running[i].node.stats["readings_signed"] == 1 for i in read))
    await wait_until(
        lambda: all(len(h.node.index.settlements.readings(SLOT)) == len(read) for h in running)
    )
    terms = running[0].node.terms
    if late:
        # heard again only after the reading closure: signed, but too late to count
        await advance(clock, running, terms.reading_closure(SLOT) + 1)  # type: ignore[arg-type]
        for i in late:
            imported, exported = METERS[i]
            node = running[i].node
            node.record_meter_index(
                SLOT + 901, import_wh=10_000 + imported, export_wh=5_000 + exported
            )
        await wait_until(lambda: all(running[i].node.stats["readings_signed"] == 1 for i in late))
    await advance(clock, running, terms.settle_time(SLOT))  # type: ignore[arg-type]
    await advance(clock, running, terms.settle_deadline(SLOT))  # type: ignore[arg-type]


async def _settled(house: Household) -> SettledSlot:
    slots, _own = await house.node.settled_slots(SLOT, SLOT + 900)
    assert [s.slot for s in slots] == [SLOT]
    return slots[0]


def _fills(house: Household) -> tuple[int, int]:
    """The household's cleared (bought, sold) Wh."""
    (cleared,) = [e for e in house.of_type(SlotCleared) if e.slot == SLOT]
    return cleared.bought_wh, cleared.sold_wh


async def test_four_nodes_agree_on_a_settlement_that_reconciles_with_meters_and_clearing(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    await _trade_and_read(running, clock, read={0, 1, 2, 3})

    settled = [await _settled(house) for house in running]
    assert {s.state for s in settled} == {SettleState.FINAL}
    assert len({(s.readings_root, s.result_hash, s.rows) for s in settled}) == 1
    seals = running[0].node.index.settlements.seals(SLOT)
    assert len(seals) == 4
    rows = {row.household: row for row in settled[0].rows}
    keys = [house.node.identity.public_key.hex() for house in running]
    outcome = running[0].node.outcome(SLOT)
    assert outcome is not None and outcome.result is not None
    price = outcome.result.price
    assert price is not None
    for i, house in enumerate(running):
        row = rows[keys[i]]
        bought, sold = _fills(house)
        imported, exported = METERS[i]
        # the meters, to the Wh
        assert (row.import_wh, row.export_wh) == (imported, exported)
        assert row.local_bought_wh + row.grid_import_wh == imported
        assert row.local_sold_wh + row.grid_export_wh == exported
        # allocated <= measured and <= traded
        assert row.local_bought_wh <= min(bought, imported)
        assert row.local_sold_wh <= min(sold, exported)
    # seller 0 delivered 500 of its fill: capped by its meter; the buyers short of it
    # are scaled down pro rata; at a uniform price, the money to the tick
    assert sum(r.local_bought_wh for r in rows.values()) == sum(
        r.local_sold_wh for r in rows.values()
    )
    assert rows[keys[0]].local_sold_wh == min(_fills(running[0])[1], 500)
    for row in rows.values():
        assert row.local_paid == row.local_bought_wh * price
        assert row.local_received == row.local_sold_wh * price

    # the household hears of it, priced at its own tariff (here the community's reference)
    events = [e for e in running[2].of_type(SlotSettled) if e.slot == SLOT]
    assert [e.state for e in events] == ["final"]
    own = events[0].own
    assert isinstance(own, HouseholdSettlement)
    terms = running[2].node.terms
    assert own.grid_paid == own.grid_import_wh * terms.ceiling
    assert own.baseline_cost == METERS[2][0] * terms.ceiling
    assert own.savings == own.local_bought_wh * (terms.ceiling - price) > 0


async def test_a_withheld_or_late_reading_settles_alike_everywhere(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    # buyer 2's meter never reports; seller 1's reading comes after the closure
    await _trade_and_read(running, clock, read={0, 3}, late={1})

    settled = [await _settled(house) for house in running]
    assert {s.state for s in settled} == {SettleState.FINAL}
    assert len({(s.readings_root, s.result_hash, s.rows) for s in settled}) == 1
    rows = {row.household: row for row in settled[0].rows}
    keys = [house.node.identity.public_key.hex() for house in running]
    # no counted reading: allocated nothing, whatever it traded
    for i in (1, 2):
        row = rows[keys[i]]
        assert not row.measured
        assert row.local_bought_wh == row.local_sold_wh == row.local_paid == 0
    # buyer 3 was the only one measured to buy: seller 0 delivers to it alone
    assert rows[keys[3]].local_bought_wh == rows[keys[0]].local_sold_wh
    assert rows[keys[3]].local_bought_wh <= min(_fills(running[3])[0], 300)
    # the late reading is held everywhere, and not counted anywhere
    for house in running:
        held = house.node.index.settlements.reading_of(SLOT, running[1].node.identity.public_key)
        assert held is not None
        assert running[1].node.identity.public_key not in house.node.index.settlements.readings(
            SLOT
        )


async def test_a_node_away_over_the_settlement_adopts_the_quorums_on_return(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    for house, (side, energy, price) in zip(running, ORDERS, strict=True):
        await house.node.place_order(side, energy, price, SLOT)
    await run_slot(clock, running, SLOT)
    for house in running:
        house.node.record_meter_index(SLOT + 1, import_wh=10_000, export_wh=5_000)
    await advance(clock, running, SLOT + 901)
    for house, (imported, exported) in zip(running, METERS, strict=True):
        house.node.record_meter_index(
            SLOT + 901, import_wh=10_000 + imported, export_wh=5_000 + exported
        )
    await wait_until(lambda: all(h.node.stats["readings_signed"] == 1 for h in running))
    # every node holds every reading before household 3 goes
    await wait_until(
        lambda: all(len(h.node.index.settlements.readings(SLOT)) == 4 for h in running)
    )
    # household 3 goes away before the settle time and comes back after the deadline
    away = running.pop()
    await away.node.stop()
    terms = running[0].node.terms
    await advance(clock, running, terms.settle_time(SLOT))
    await advance(clock, running, terms.settle_deadline(SLOT) + 60)
    quorum = await _settled(running[0])
    assert quorum.state is SettleState.FINAL
    back = await start_household(dirs[3], clock)
    running.append(back)
    mesh(running)
    await wait_until(lambda: back.node.entries_held >= running[0].node.entries_held)
    await advance(clock, running, terms.settle_deadline(SLOT) + 120)
    mine = await _settled(back)
    assert (mine.state, mine.result_hash, mine.rows) == (
        SettleState.FINAL,
        quorum.result_hash,
        quorum.rows,
    )
    # it never sealed a settlement that could no longer count
    assert back.node.identity.public_key not in back.node.index.settlements.seals(SLOT)
    events = [e for e in back.of_type(SlotSettled) if e.slot == SLOT]
    assert [e.state for e in events] == ["final"]
    assert events[0].own is not None and events[0].own.local_bought_wh > 0


async def test_without_a_quorum_the_settlement_is_disputed_everywhere(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    for house, (side, energy, price) in zip(running, ORDERS, strict=True):
        await house.node.place_order(side, energy, price, SLOT)
    await run_slot(clock, running, SLOT)
    # half the community goes away before anyone settles: 2 seals of 4 are no quorum
    for house in running[2:]:
        await house.node.stop()
    del running[2:]
    terms = running[0].node.terms
    await advance(clock, running, terms.settle_time(SLOT))
    assert all(h.node.stats["settle_seals"] == 1 for h in running)
    await advance(clock, running, terms.settle_deadline(SLOT))
    settled = [await _settled(house) for house in running]
    assert {s.state for s in settled} == {SettleState.DISPUTED}
    assert len({s.rows for s in settled}) == 1
    # nobody was read: nothing allocated, the trades fall back on the grid
    assert all(row.local_bought_wh == row.local_sold_wh == 0 for row in settled[0].rows)
    for house in running:
        events = [e for e in house.of_type(SlotSettled) if e.slot == SLOT]
        assert [e.state for e in events] == ["disputed"]


async def test_a_node_cut_off_at_settlement_finds_the_quorums_readings_among_its_own(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    for house, (side, energy, price) in zip(running, ORDERS, strict=True):
        await house.node.place_order(side, energy, price, SLOT)
    await run_slot(clock, running, SLOT)
    # household 3 is cut off before its reading: the others never hold it in time
    majority, alone = running[:3], running[3]
    partition([majority, [alone]])
    groups = (majority, [alone])
    for house in running:
        house.node.record_meter_index(SLOT + 1, import_wh=10_000, export_wh=5_000)
    for group in groups:
        await advance(clock, group, SLOT + 901)
    for house, (imported, exported) in zip(running, METERS, strict=True):
        house.node.record_meter_index(
            SLOT + 901, import_wh=10_000 + imported, export_wh=5_000 + exported
        )
    await wait_until(lambda: all(h.node.stats["readings_signed"] == 1 for h in running))
    terms = running[0].node.terms
    for t in (terms.settle_time(SLOT), terms.settle_deadline(SLOT)):
        for group in groups:
            await advance(clock, group, t)
    quorum = await _settled(majority[0])
    assert quorum.state is SettleState.FINAL
    me = alone.node.identity.public_key.hex()
    mine = quorum.row(me)
    assert mine is not None and not mine.measured  # its reading never reached them
    assert (await _settled(alone)).state is SettleState.DISPUTED  # alone, no quorum

    # healed: it now holds every reading, its own one more than the quorum's set, and
    # adopts the quorum's settlement all the same
    mesh(running)
    await wait_until(
        lambda: len(alone.node.index.settlements.seals(SLOT)) == 4
        and len(alone.node.index.settlements.readings(SLOT)) == 4
    )
    await advance(clock, running, terms.settle_deadline(SLOT) + 60)
    adopted = await _settled(alone)
    assert (adopted.state, adopted.result_hash, adopted.rows) == (
        SettleState.FINAL,
        quorum.result_hash,
        quorum.rows,
    )
    states = [e.state for e in alone.of_type(SlotSettled) if e.slot == SLOT]
    assert states == ["disputed", "final"]
