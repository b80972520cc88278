"""The community's surplus signal: the open slots' unsold asks, and when a node tells."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.model import Side
from market.node import SlotSurplus, SurplusChanged
from market.node.index import MarketIndex
from market.node.surplus import MAX_FORECAST_SLOTS, SurplusWatch
from market.terms import CommunityTerms
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    start_neighbourhood,
    wait_until,
)

SLOT_S = 900
NEXT = T0 + SLOT_S  # the first slot whose gate is open at T0


async def test_a_neighbours_unsold_ask_is_the_communitys_surplus(
    tmp_path: Path, running: list[Household]
) -> None:
    _clock, _dirs, _community = await start_neighbourhood(tmp_path, running, 2)
    seller, buyer = running
    await seller.node.place_order(Side.SELL, 2000, 500, NEXT)
    await seller.node.place_order(Side.SELL, 700, 600, NEXT + SLOT_S)
    await wait_until(lambda: bool(buyer.of_type(SurplusChanged)))
    assert buyer.of_type(SurplusChanged) == [SurplusChanged(NEXT, 2000, 2000, 0, None)]

    await buyer.node.place_order(Side.BUY, 1500, 1800, NEXT)
    await wait_until(lambda: len(seller.of_type(SurplusChanged)) == 2)
    # the uniform price between the marginal ask and bid, as the slot would clear now
    assert seller.of_type(SurplusChanged)[-1] == SurplusChanged(NEXT, 500, 2000, 1500, 1150)
    assert buyer.node.surplus_forecast(T0, count=3) == [
        SlotSurplus(NEXT, 500, 2000, 1500, 1150),
        SlotSurplus(NEXT + SLOT_S, 700, 700, 0, None),
        SlotSurplus(NEXT + 2 * SLOT_S, 0, 0, 0, None),
    ]


async def test_small_moves_are_no_event_and_a_cancel_is(
    tmp_path: Path, running: list[Household]
) -> None:
    _clock, _dirs, _community = await start_neighbourhood(tmp_path, running, 1)
    [house] = running
    node = house.node
    for _ in range(9):
        await node.place_order(Side.SELL, 10, 500, NEXT)
    assert house.of_type(SurplusChanged) == []  # 90 Wh: below the 100 Wh step
    big = await node.place_order(Side.SELL, 10, 500, NEXT)
    assert [e.unmatched_sell_wh for e in house.of_type(SurplusChanged)] == [100]
    for _ in range(9):
        await node.place_order(Side.SELL, 10, 500, NEXT)
    assert [e.unmatched_sell_wh for e in house.of_type(SurplusChanged)] == [100]
    await node.cancel_order(big)  # 180 Wh: still within a step of the 100 told
    assert len(house.of_type(SurplusChanged)) == 1
    await node.place_order(Side.SELL, 20, 500, NEXT)
    assert [e.unmatched_sell_wh for e in house.of_type(SurplusChanged)] == [100, 200]


async def test_the_next_slot_is_told_when_the_gate_closes(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _community = await start_neighbourhood(tmp_path, running, 1)
    [house] = running
    await house.node.place_order(Side.SELL, 800, 500, NEXT)
    await house.node.place_order(Side.SELL, 300, 500, NEXT + SLOT_S)
    assert house.of_type(SurplusChanged)[-1].unmatched_sell_wh == 800

    # NEXT's gate closes: the slot after it is the next open one, with 300 Wh unsold
    await advance(clock, running, house.node.terms.gate_closure(NEXT))
    assert house.of_type(SurplusChanged)[-1] == SurplusChanged(NEXT + SLOT_S, 300, 300, 0, None)
    [first] = house.node.surplus_forecast(count=1)
    assert first.slot == NEXT + SLOT_S


async def test_a_forecast_is_bounded(tmp_path: Path, running: list[Household]) -> None:
    _clock, _dirs, _community = await start_neighbourhood(tmp_path, running, 1)
    node = running[0].node
    assert len(node.surplus_forecast(T0, count=10_000)) == MAX_FORECAST_SLOTS
    assert node.surplus_forecast(T0, count=0) == []


@pytest.mark.parametrize("step", [0, -5, 1.5, True])
def test_the_surplus_step_must_be_a_positive_integer(step: object) -> None:
    terms = CommunityTerms()
    with pytest.raises(ValueError, match="surplus_step_wh"):
        SurplusWatch(MarketIndex(terms, [], 0), terms, print, step)  # type: ignore[arg-type]
