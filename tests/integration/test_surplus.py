"""The community surplus: a neighbour's unsold ask shows in the sensor and fires the
`p2p_energy_surplus` event, so an automation can switch a load on for it."""

from __future__ import annotations

from conftest import T0, advance_to, wait_until
from homeassistant.core import Event, HomeAssistant, State
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import DOMAIN
from market.model import Side
from market.node.clock import ManualClock
from tests.market.node_harness import Household

NEXT = T0 + 900  # the first slot whose gate is open at T0
SURPLUS = "sensor.rue_des_lilas_community_surplus"


def _state(hass: HomeAssistant) -> State:
    state = hass.states.get(SURPLUS)
    assert state is not None
    return state


async def test_a_neighbours_unsold_ask_shows_and_fires_the_event(
    hass: HomeAssistant, home: MockConfigEntry, neighbour: Household, market_clock: ManualClock
) -> None:
    events: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_surplus", events.append)
    assert _state(hass).state == "0.0"
    assert len(_state(hass).attributes["slots"]) == 8

    await neighbour.node.place_order(Side.SELL, 2000, 500, NEXT)
    await wait_until(hass, lambda: bool(events))
    assert events[0].data == {
        "config_entry_id": home.entry_id,
        "slot_start": "2027-01-15T08:15:00+00:00",
        "slot_end": "2027-01-15T08:30:00+00:00",
        "unmatched_kwh": 2.0,
        "unmatched_wh": 2000,
        "sell_wh": 2000,
        "buy_wh": 0,
        "price": None,
        "price_ticks": None,
        "currency": "EUR",
    }
    state = _state(hass)
    assert state.state == "2.0"
    assert state.attributes["unit_of_measurement"] == "kWh"
    assert state.attributes["slot_start"] == "2027-01-15T08:15:00+00:00"
    assert state.attributes["slots"][0] == {
        "slot_start": "2027-01-15T08:15:00+00:00",
        "unmatched_kwh": 2.0,
        "sell_kwh": 2.0,
        "buy_kwh": 0.0,
        "price": None,
    }

    # The household's own bid takes 1.5 kWh of it at the price the slot would clear at.
    await home.runtime_data.market.node.place_order(Side.BUY, 1500, 1800, NEXT)
    await wait_until(hass, lambda: len(events) == 2)
    assert events[1].data["unmatched_wh"] == 500
    assert events[1].data["price"] == 0.115
    await wait_until(hass, lambda: _state(hass).state == "0.5")
    assert _state(hass).attributes["slots"][0]["price"] == 0.115

    # Its gate closes: the next open slot has nothing on offer.
    await advance_to(hass, market_clock, home.runtime_data.market.terms.gate_closure(NEXT))
    await wait_until(hass, lambda: len(events) == 3)
    assert events[2].data["slot_start"] == "2027-01-15T08:30:00+00:00"
    assert events[2].data["unmatched_wh"] == 0
    await wait_until(hass, lambda: _state(hass).state == "0.0")
    assert _state(hass).attributes["slot_start"] == "2027-01-15T08:30:00+00:00"
