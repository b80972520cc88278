"""Real nodes on loopback clear the same slots to the same results and seals."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.model import Side
from market.node.clock import ManualClock
from market.node.events import SlotCleared, SlotDisputed
from market.node.finality import SlotState
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    make_community,
    mesh,
    partition,
    run_slot,
    start_household,
    start_neighbourhood,
)


async def test_four_nodes_clear_a_slot_to_identical_results(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    slot = T0 + 2 * 900
    sellers, buyers = running[:2], running[2:]
    for house, energy, price in zip(sellers, (800, 600), (900, 1100), strict=True):
        await house.node.place_order(Side.SELL, energy, price, slot)
    for house, energy, price in zip(buyers, (700, 500), (1800, 1500), strict=True):
        await house.node.place_order(Side.BUY, energy, price, slot)

    await run_slot(clock, running, slot)

    outcomes = [house.node.outcome(slot) for house in running]
    assert all(o is not None and o.state is SlotState.FINAL for o in outcomes)
    results = {o.result.to_canonical_json() for o in outcomes if o and o.result}
    assert len(results) == 1
    seals = running[0].node.index.seals(slot)
    assert len(seals) == 4
    assert len({(s.order_root, s.result_hash) for s in seals.values()}) == 1
    cleared = [house.of_type(SlotCleared) for house in running]
    assert all(len(events) == 1 and not events[0].late for events in cleared)
    # the households' own fills add up: sold == bought, each within its order
    sold = sum(events[0].sold_wh for events in cleared)
    bought = sum(events[0].bought_wh for events in cleared)
    assert sold == bought == cleared[0][0].volume_wh > 0
    assert cleared[2][0].bought_wh <= 700
    price = cleared[0][0].price
    assert price is not None and 1100 <= price <= 1500


async def test_an_order_placed_after_gate_closure_is_refused(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, _ = make_community(tmp_path, 1)
    running.append(await start_household(dirs[0], clock))
    slot = T0 + 900
    await advance(clock, running, slot - 300)
    with pytest.raises(Exception, match="gate_closed"):
        await running[0].node.place_order(Side.BUY, 100, 1000, slot)


async def test_empty_slots_clear_with_no_trade_and_no_dispute(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 3)
    # a community created at T0 has no electorate for its first slot; from then on:
    for slot in (T0 + 1800, T0 + 2700):
        await run_slot(clock, running, slot)
    for house in running:
        disputed = house.of_type(SlotDisputed)
        assert [(e.slot, e.reason) for e in disputed] == [(T0 + 900, "no_electorate")]
        assert [e.volume_wh for e in house.of_type(SlotCleared)] == [0, 0]


async def test_a_node_that_misses_gate_closure_ends_with_the_same_result(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    warmup, slot = T0 + 1800, T0 + 2700
    await run_slot(clock, running, warmup)  # everyone is active in the community
    away = running.pop()
    await away.node.stop()
    await running[0].node.place_order(Side.SELL, 1000, 800, slot)
    await running[1].node.place_order(Side.BUY, 600, 1700, slot)
    await run_slot(clock, running, slot)
    final = running[0].node.outcome(slot)
    assert final is not None and final.state is SlotState.FINAL and final.result is not None
    assert final.verdict.agreeing == 3 and final.verdict.electorate == 4

    back = await start_household(dirs[3], clock)
    running.append(back)
    mesh(running)
    await advance(clock, running, slot + 60)
    again = back.node.outcome(slot)
    assert again is not None and again.state is SlotState.FINAL and again.result is not None
    assert again.result.to_canonical_json() == final.result.to_canonical_json()
    late = [e for e in back.of_type(SlotCleared) if e.slot == slot]
    assert len(late) == 1 and late[0].late


async def test_an_order_withheld_from_half_the_nodes_disputes_the_slot(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    warmup, slot, after = T0 + 1800, T0 + 2700, T0 + 3600
    await run_slot(clock, running, warmup)
    await running[2].node.place_order(Side.SELL, 500, 800, slot)
    await running[3].node.place_order(Side.BUY, 500, 1800, slot)
    await advance(clock, running, warmup + 60)
    # From here the writer reaches only one neighbour before the seals.
    half, other_half = running[:2], running[2:]
    partition([half, other_half])
    await half[0].node.place_order(Side.BUY, 400, 1900, slot)
    await advance(clock, half, running[0].node.terms.seal_time(slot))
    clock.advance_to(slot * 1000)
    await advance(clock, other_half, slot)
    await advance(clock, half, slot)
    mesh(running)
    await advance(clock, running, slot + 60)

    for house in running:
        outcome = house.node.outcome(slot)
        assert outcome is not None and outcome.state is SlotState.DISPUTED
        assert not [e for e in house.of_type(SlotCleared) if e.slot == slot]
        seals = house.node.index.seals(slot)
        assert len({(s.order_root, s.result_hash) for s in seals.values()}) == 2
    # the community trades again in the next slot
    await running[2].node.place_order(Side.SELL, 500, 800, after)
    await running[3].node.place_order(Side.BUY, 500, 1800, after)
    await run_slot(clock, running, after)
    for house in running:
        outcome = house.node.outcome(after)
        assert outcome is not None and outcome.state is SlotState.FINAL
        assert outcome.result is not None and outcome.result.volume_wh == 500


async def test_a_node_that_traded_while_cut_off_adopts_the_quorums_result(
    tmp_path: Path, running: list[Household]
) -> None:
    # Found by the fault suite: a node cut off before the gate placed an order the
    # others never saw; they sealed the slot final without it. Once healed, that node
    # holds an order set the quorum did not seal, and must still reach their result.
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    warmup, slot = T0 + 1800, T0 + 2700
    await run_slot(clock, running, warmup)
    majority, (alone,) = running[:3], running[3:]
    await majority[0].node.place_order(Side.SELL, 1000, 800, slot)
    await majority[1].node.place_order(Side.BUY, 600, 1700, slot)
    await advance(clock, running, warmup + 60)
    partition([majority, [alone]])
    await alone.node.place_order(Side.BUY, 500, 1900, slot)
    await advance(clock, majority, running[0].node.terms.seal_time(slot))
    await advance(clock, [alone], running[0].node.terms.seal_time(slot))
    clock.advance_to(slot * 1000)
    await advance(clock, majority, slot)
    await advance(clock, [alone], slot)
    final = majority[0].node.outcome(slot)
    assert final is not None and final.state is SlotState.FINAL and final.result is not None
    assert final.result.volume_wh == 600  # without the lone node's bid

    mesh(running)
    await advance(clock, running, slot + 60)
    adopted = alone.node.outcome(slot)
    assert adopted is not None and adopted.state is SlotState.FINAL
    assert adopted.result is not None
    assert adopted.result.to_canonical_json() == final.result.to_canonical_json()
    late = [e for e in alone.of_type(SlotCleared) if e.slot == slot]
    assert late and late[-1].late and late[-1].fills == ()  # its bid did not trade
