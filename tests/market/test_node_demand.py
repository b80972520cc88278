"""A household without steerable loads buys its own expected import: the node learns it
from the readings it signs (and from its chain after a restart), and the consumption
buyer bids it for the coming slots."""

from __future__ import annotations

from pathlib import Path

from market.agents import ConsumptionBuyerAgent, HouseholdLimits, Observation, PvSellerAgent
from market.agents.inputs import SlotForecast
from market.cli import build_parser
from market.model import Side
from market.node import Node
from market.node.cli import _attach_meter
from market.node.datadir import DataDir
from market.node.events import SlotCleared
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    mesh,
    run_slot,
    start_household,
    start_neighbourhood,
    wait_until,
)

LIMITS = HouseholdLimits(
    max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
)
STEADY_WH = 600  # 2.4 kW all along


def _buys_its_demand(node: Node) -> None:
    """What the headless node and Home Assistant give a metered household."""
    node.set_observation_source(lambda now_s: Observation(demand=node.demand_forecast(now_s)))
    node.add_agent(ConsumptionBuyerAgent("load", node.terms, LIMITS))


def _bids(node: Node) -> dict[int, int]:
    return {order.slot: order.energy_wh for order in node.open_orders() if order.source == "load"}


def _sunny(now_s: int) -> Observation:
    first = now_s - now_s % 900
    return Observation(
        forecast=tuple(
            SlotForecast(slot=first + i * 900, pv_wh=1500, load_wh=300) for i in range(8)
        )
    )


async def test_a_steady_import_is_bid_for_the_coming_slots_and_bought_from_a_neighbour(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, community = await start_neighbourhood(tmp_path, running, 2)
    house, neighbour = running
    terms = community.terms
    _buys_its_demand(house.node)
    await house.node.run_agents_now()
    assert _bids(house.node) == {}  # a new household: nothing to go by, no bid

    # A Linky heard every minute over three slots: EAST rises 600 Wh a slot.
    for at in range(T0, T0 + 2700 + 1, 60):
        await advance(clock, running, at)
        house.node.record_meter_index(at, import_wh=10_000 + (at - T0) * STEADY_WH // 900)
    await wait_until(lambda: house.node.status().counters["readings_signed"] == 3)
    await advance(clock, running, T0 + 2760)
    await house.node.run_agents_now()
    coming = terms.open_slots(T0 + 2760, 4)
    assert _bids(house.node) == dict.fromkeys(coming, STEADY_WH)

    # The neighbour's PV covers it: the household buys its import locally.
    neighbour.node.set_observation_source(_sunny)
    neighbour.node.add_agent(PvSellerAgent("pv", terms, LIMITS))
    await neighbour.node.run_agents_now()
    await run_slot(clock, running, coming[0])
    [cleared] = [e for e in house.of_type(SlotCleared) if e.slot == coming[0]]
    assert cleared.bought_wh == STEADY_WH
    assert {fill.source for fill in cleared.fills} == {"load"}

    # Restarted, the node learns the same from the readings on its chain.
    running.remove(house)
    await house.node.stop()
    again = await start_household(dirs[0], clock)
    running.insert(0, again)
    mesh(running)
    _buys_its_demand(again.node)
    await again.node.run_agents_now()
    now_s = clock.now_ms() // 1000
    forecast = again.node.demand_forecast(now_s)
    assert set(forecast.values()) == {STEADY_WH}
    assert _bids(again.node) == dict.fromkeys(terms.open_slots(now_s, 4), STEADY_WH)


async def test_the_headless_node_buys_its_demand_unless_told_not_to(
    tmp_path: Path, running: list[Household]
) -> None:
    """`python -m market node --meter ...` hosts the PV seller and the consumption
    buyer; `--no-consumption-buyer` leaves the buyer out."""
    _clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 1)
    (house,) = running
    for extra, expected in (([], ["pv", "load"]), (["--no-consumption-buyer"], ["pv"])):
        args = build_parser().parse_args(
            ["node", "--data-dir", str(tmp_path), "--meter", "sim", *extra]
        )
        for agent_id in house.node.agent_ids():
            house.node.remove_agent(agent_id)
        await _attach_meter(
            house.node,
            args.meter,
            args.simulated_household,
            consumption_buyer=args.consumption_buyer,
        )
        assert house.node.agent_ids() == expected


async def test_what_other_orders_bought_for_a_steered_load_is_not_learned_as_demand(
    tmp_path: Path, running: list[Household]
) -> None:
    """A car charged on a neighbour's surplus shows in the meter's import; the
    consumption buyer must not bid for it again the next day at the same time: the
    car's own orders buy it (and it may not even be at home)."""
    clock, dirs, community = await start_neighbourhood(tmp_path, running, 2)
    house, neighbour = running
    terms = community.terms
    _buys_its_demand(house.node)
    neighbour.node.set_observation_source(_sunny)
    neighbour.node.add_agent(PvSellerAgent("pv", terms, LIMITS))
    await neighbour.node.run_agents_now()
    ev_slot = terms.open_slots(T0, 2)[1]  # the community's first slot has no electorate yet
    ev_wh = 900
    # what a car session buys (the ask has not ramped down yet: the bid meets it)
    await house.node.place_order(Side.BUY, ev_wh, terms.ceiling, ev_slot)
    await run_slot(clock, running, ev_slot)
    [cleared] = [e for e in house.of_type(SlotCleared) if e.slot == ev_slot]
    assert cleared.bought_wh == ev_wh

    # The meter: 300 Wh a slot of base load, and the car's 1000 Wh in its slot.
    index = 10_000
    for at in range(T0, ev_slot + 2 * 900 + 1, 60):
        await advance(clock, running, max(at, clock.now_ms() // 1000))
        house.node.record_meter_index(at, import_wh=index)
        index += 20 + (ev_wh // 15 if ev_slot <= at < ev_slot + 900 else 0)
    await wait_until(lambda: house.node.status().counters["readings_signed"] == 3)

    # Tomorrow at the same times the household expects its base load only.
    tomorrow = house.node.demand_forecast(T0 + 86_400, 3)
    assert tomorrow == dict.fromkeys(range(T0 + 86_400, T0 + 86_400 + 2700, 900), 300)

    # Restarted, it still knows which part of that slot the car's orders bought.
    running.remove(house)
    await house.node.stop()
    again = await start_household(dirs[0], clock)
    running.insert(0, again)
    assert again.node.demand_forecast(T0 + 86_400, 3) == tomorrow


def test_a_damaged_record_of_steered_loads_is_read_as_none(tmp_path: Path) -> None:
    """The file is the node's own but a disk can corrupt it: nothing in it stops a start."""
    data = DataDir(tmp_path)
    data.save_steered_loads({T0: 900, T0 + 900: 450})
    assert data.steered_loads() == {T0: 900, T0 + 900: 450}
    for text in ("{", "[1, 2]", '{"²": 5, "-3": 4, "12": -1, "13": true, "14": 2.5}', "[" * 50_000):
        (tmp_path / "steered_loads.json").write_text(text, encoding="utf-8")
        assert data.steered_loads() == {}
