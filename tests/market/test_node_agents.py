"""Agents trade for their households through real nodes: an EV charges on surplus."""

from __future__ import annotations

from pathlib import Path

from market.agents import (
    EvChargingAgent,
    EvSession,
    HouseholdLimits,
    Observation,
    PvSellerAgent,
    SlotForecast,
)
from market.node import OrderStatus
from market.node.clock import ManualClock
from market.node.events import AgentSchedule, SlotCleared
from tests.market.node_harness import (
    T0,
    Household,
    make_community,
    run_slot,
    start_household,
    start_neighbourhood,
)

LIMITS = HouseholdLimits(
    max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
)
SLOT_S = 900


def _sunny(surplus_wh: int) -> object:
    def observe(now_s: int) -> Observation:
        first = now_s - now_s % SLOT_S
        return Observation(
            forecast=tuple(
                SlotForecast(slot=first + i * SLOT_S, pv_wh=surplus_wh + 200, load_wh=200)
                for i in range(8)
            )
        )

    return observe


async def _neighbourhood(
    tmp_path: Path, running: list[Household], surplus_wh: int
) -> tuple[ManualClock, Household, int]:
    clock, _dirs, community = await start_neighbourhood(tmp_path, running, 4)
    terms = community.terms
    for i, house in enumerate(running[:2]):
        house.node.set_observation_source(_sunny(surplus_wh))  # type: ignore[arg-type]
        house.node.add_agent(PvSellerAgent(f"pv{i}", terms, LIMITS))
    ev_house = running[2]
    departure = T0 + 8 * SLOT_S
    session = EvSession(
        energy_wh=3000, departure=departure, max_price=1900, min_power_w=1400, max_power_w=7400
    )
    ev_house.node.add_agent(EvChargingAgent("ev", terms, LIMITS, session))
    for house in running:
        await house.node.run_agents_now()
    return clock, ev_house, departure


async def test_an_ev_session_charges_over_several_slots_on_neighbours_surplus(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, ev_house, departure = await _neighbourhood(tmp_path, running, surplus_wh=900)
    for slot in range(T0 + SLOT_S, departure, SLOT_S):
        await run_slot(clock, running, slot)

    bought = [(e.slot, e.bought_wh) for e in ev_house.of_type(SlotCleared) if e.bought_wh]
    assert len(bought) >= 2, bought
    assert sum(wh for _slot, wh in bought) >= 2000
    assert all(fill.source == "ev" for e in ev_house.of_type(SlotCleared) for fill in e.fills)
    sold = sum(e.sold_wh for house in running[:2] for e in house.of_type(SlotCleared))
    assert sold == sum(wh for _slot, wh in bought)
    schedules = ev_house.of_type(AgentSchedule)
    assert schedules and schedules[-1].agent_id == "ev"


async def test_without_surplus_the_ev_session_falls_back_to_the_grid(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, ev_house, departure = await _neighbourhood(tmp_path, running, surplus_wh=0)
    for slot in range(T0 + SLOT_S, T0 + 5 * SLOT_S, SLOT_S):
        await run_slot(clock, running, slot)

    assert not [e for e in ev_house.of_type(SlotCleared) if e.bought_wh]
    schedule = ev_house.of_type(AgentSchedule)[-1].schedule
    assert schedule.grid_wh > 0
    assert schedule.session.departure == departure


async def test_after_a_restart_the_agents_do_not_offer_twice(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 2)
    terms = community.terms
    seller = await start_household(dirs[0], clock)
    running.append(seller)
    seller.node.set_observation_source(_sunny(600))  # type: ignore[arg-type]
    seller.node.add_agent(PvSellerAgent("pv", terms, LIMITS))
    await seller.node.run_agents_now()
    slots = {order.order_id for order in seller.node.open_orders()}
    assert slots

    running.remove(seller)
    await seller.node.stop()
    again = await start_household(dirs[0], clock)
    running.append(again)
    again.node.set_observation_source(_sunny(600))  # type: ignore[arg-type]
    again.node.add_agent(PvSellerAgent("pv", terms, LIMITS))
    await again.node.run_agents_now()
    live = again.node.open_orders()
    assert live
    assert not {order.order_id for order in live} & slots  # the old offers are withdrawn
    for slot in terms.open_slots(T0, 4):
        book = again.node.order_book(slot)
        assert sum(1 for order in book if order.status is OrderStatus.LIVE) <= 1
