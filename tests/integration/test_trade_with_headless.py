"""Home Assistant's node trades with a neighbour's headless node over loopback.

Both run in this event loop on one manual clock (the integration's `NODE_HOOKS` give the
entry's node the test's clock), so a whole slot - orders, gate closure, seals, finality,
delivery - passes in milliseconds. The household sees the trade where its automations
do: the `p2p_energy_slot_cleared` event and the entities.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import voluptuous as vol
from conftest import T0, wait_until
from homeassistant.auth.models import User
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import DOMAIN
from market.agents import HouseholdLimits, Observation, PvSellerAgent, SlotForecast
from market.model import Side
from market.node.clock import ManualClock
from market.node.events import SlotCleared
from tests.market.node_harness import Household, advance, run_slot

SLOT = T0 + 1800  # the first slot of a new community that can be final


def _at(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def _cleared(hass: HomeAssistant) -> list[Event]:
    events: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_slot_cleared", events.append)
    return events


async def test_a_bid_placed_by_service_buys_the_neighbours_offer(
    hass: HomeAssistant,
    market_clock: ManualClock,
    neighbour: Household,
    home: MockConfigEntry,
    hass_admin_user: User,
) -> None:
    cleared = _cleared(hass)
    ours = Household(home.runtime_data.market.node)
    result = await hass.services.async_call(
        DOMAIN,
        "place_order",
        {
            "config_entry_id": home.entry_id,
            "side": "buy",
            "energy_kwh": 1.5,
            "price": 0.18,
            "slot": _at(SLOT),
        },
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_admin_user.id),  # a person runs the action
    )
    assert result is not None
    [bid] = result["order_ids"]
    await neighbour.node.place_order(Side.SELL, 2000, 600, SLOT)

    await run_slot(market_clock, [ours, neighbour], SLOT)
    await wait_until(hass, lambda: any(e.data["slot_start"] == _at(SLOT) for e in cleared))
    [event] = [e.data for e in cleared if e.data["slot_start"] == _at(SLOT)]
    assert event["config_entry_id"] == home.entry_id
    assert event["price"] == 0.12  # uniform: halfway between the ask and the bid
    assert (event["bought_kwh"], event["sold_kwh"], event["late"]) == (1.5, 0, False)
    assert event["fills"] == [
        {"order_id": bid, "side": "buy", "energy_wh": 1500, "price_ticks": 1200, "source": "action"}
    ]
    # The neighbour's node cleared the same slot identically.
    [theirs] = [e for e in neighbour.of_type(SlotCleared) if e.slot == SLOT]
    assert (theirs.price, theirs.sold_wh) == (1200, 1500)

    await hass.async_block_till_done()
    buying = hass.states.get("binary_sensor.maison_buying_from_neighbours")
    assert buying is not None and buying.state == "on"
    assert buying.attributes["bought_by"] == {"action": 1500}  # a person's order, not an agent's
    assert hass.states.get("sensor.maison_energy_bought_today").state == "1.5"  # type: ignore[union-attr]
    assert float(hass.states.get("sensor.maison_spent_today").state) == 0.18  # type: ignore[union-attr]
    assert hass.states.get("sensor.rue_des_lilas_members").state == "2"  # type: ignore[union-attr]


async def test_the_ev_charges_on_the_neighbours_solar_surplus(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    cleared = _cleared(hass)
    ours = Household(home.runtime_data.market.node)
    terms = neighbour.node.terms

    def sunny(now_s: int) -> Observation:
        first = now_s - now_s % 900
        return Observation(
            forecast=tuple(
                SlotForecast(slot=first + i * 900, pv_wh=1100, load_wh=200) for i in range(8)
            )
        )

    neighbour.node.set_observation_source(sunny)
    limits = HouseholdLimits(
        max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
    )
    neighbour.node.add_agent(PvSellerAgent("pv", terms, limits))
    # The car is plugged in a minute after the community's first slot (which has no
    # electorate yet) starts: the next slot's offers and bids are at their last step.
    await run_slot(market_clock, [ours, neighbour], T0 + 900)
    await advance(market_clock, [ours, neighbour], T0 + 960)
    departure = T0 + 8 * 900
    await hass.services.async_call(
        DOMAIN,
        "start_ev_session",
        {
            "config_entry_id": home.entry_id,
            "energy_kwh": 3,
            "departure": _at(departure),
            "max_price": 0.19,
        },
        blocking=True,
    )
    for slot in range(SLOT, departure, 900):
        await run_slot(market_clock, [ours, neighbour], slot)
    await hass.async_block_till_done()

    bought = [e.data for e in cleared if e.data["bought_wh"]]
    # 900 Wh of surplus a slot: the car takes all of it, slot after slot.
    assert [e["bought_wh"] for e in bought][:2] == [900, 900]
    assert sum(e["bought_wh"] for e in bought) >= 1800
    assert {fill["source"] for e in bought for fill in e["fills"]} == {"ev"}
    sold = sum(e.sold_wh for e in neighbour.of_type(SlotCleared))
    assert sold == sum(e["bought_wh"] for e in bought)
    assert float(hass.states.get("sensor.maison_energy_bought_today").state) == sold / 1000  # type: ignore[union-attr]


async def test_a_vote_removes_a_neighbour_and_a_bad_key_is_refused(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    node = home.runtime_data.market.node
    theirs = neighbour.node.identity.public_key.hex()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "vote_to_remove",
            {"config_entry_id": home.entry_id, "member": "ab" * 32},
            blocking=True,
        )
    assert err.value.translation_key == "invalid_member"
    with pytest.raises(vol.Invalid):  # not a key at all: the form says so
        await hass.services.async_call(
            DOMAIN,
            "vote_to_remove",
            {"config_entry_id": home.entry_id, "member": "zz"},
            blocking=True,
        )
    # Two households: the one other than the neighbour is a majority of one.
    await hass.services.async_call(
        DOMAIN,
        "vote_to_remove",
        {"config_entry_id": home.entry_id, "member": theirs.upper()},
        blocking=True,
    )
    assert not node.index.is_member(neighbour.node.identity.public_key)
    assert node.status().members == 1
    # The removed neighbour keeps knocking (refused): stopped first, it cannot connect
    # while Home Assistant's node closes its server, which Python 3.13.0's asyncio
    # turns into an error ("assert self._sockets is not None" in Server._attach).
    await neighbour.node.stop()
    assert await hass.config_entries.async_unload(home.entry_id)
