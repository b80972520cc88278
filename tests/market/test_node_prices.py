"""The prices the node expects for its planners: the open books' unsold surplus (its own
bids left out), else what the same slot of day cleared at lately; an EV then waits for
the slot with surplus instead of buying the earliest ones."""

from __future__ import annotations

from pathlib import Path

from market.agents import EvChargingAgent, EvSession, HouseholdLimits, Observation
from market.model import Side
from market.node.events import SlotCleared
from market.node.prices import PriceHistory
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    run_slot,
    start_household,
    start_neighbourhood,
    wait_until,
)

LIMITS = HouseholdLimits(
    max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
)
DAY = 86_400


def _expected(house: Household, now_s: int) -> dict[int, int]:
    prices = house.node._prices
    assert isinstance(prices, PriceHistory)
    return prices.expected(now_s)


async def test_cleared_prices_and_unsold_asks_make_the_expected_prices(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, community = await start_neighbourhood(tmp_path, running, 2)
    house, neighbour = running
    terms = community.terms
    traded, quiet = T0 + 1800, T0 + 2700
    await neighbour.node.place_order(Side.SELL, 1000, 600, traded)
    await house.node.place_order(Side.BUY, 800, 1200, traded)
    await run_slot(clock, running, traded)
    await run_slot(clock, running, quiet)  # nothing offered, nothing bought
    [cleared] = [e for e in house.of_type(SlotCleared) if e.slot == traded]
    assert cleared.price == 900  # halfway between 600 and 1200

    # The next day at the same hours: the price it cleared at, the ceiling for no trade.
    tomorrow = _expected(house, T0 + DAY)
    assert tomorrow[traded + DAY] == 900
    assert tomorrow[quiet + DAY] == terms.ceiling

    # A neighbour's ask nobody takes yet, in an open slot: what a bid would clear at.
    now_s = clock.now_ms() // 1000
    offered = terms.open_slots(now_s, 2)[1]
    await neighbour.node.place_order(Side.SELL, 1500, 700, offered)
    await wait_until(lambda: offered in _expected(house, now_s))
    assert _expected(house, now_s)[offered] == 700 + terms.grid_fee
    # The household's own bid does not take the expectation away (it would chase itself).
    await house.node.place_order(Side.BUY, 1500, 1500, offered)
    assert _expected(house, now_s)[offered] == 700 + terms.grid_fee

    # Restarted, the node expects the same from what it learned.
    running.remove(house)
    await house.node.stop()
    again = await start_household(dirs[0], clock)
    running.insert(0, again)
    assert _expected(again, T0 + DAY)[traded + DAY] == 900
    assert again.node.status().counters["price_save_failures"] == 0


async def test_an_ev_bids_where_the_neighbours_have_surplus_not_in_the_earliest_slots(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, community = await start_neighbourhood(tmp_path, running, 2)
    house, neighbour = running
    terms = community.terms
    now_s = T0 + 60
    await advance(clock, running, now_s)
    later = terms.open_slots(now_s, 4)[3]
    await neighbour.node.place_order(Side.SELL, 1850, 500, later)
    await wait_until(lambda: later in _expected(house, now_s))
    session = EvSession(
        energy_wh=1850,
        departure=T0 + 6 * 3600,
        max_price=1900,
        min_power_w=1400,
        max_power_w=7400,
    )
    house.node.set_observation_source(lambda _now_s: Observation())
    house.node.add_agent(EvChargingAgent("ev", terms, LIMITS, session))
    await house.node.run_agents_now()
    bids = {o.slot: o.energy_wh for o in house.node.open_orders() if o.source == "ev"}
    assert bids == {later: 1850}  # not the first open slot: nobody sells there
