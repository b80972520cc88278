"""An EV session with a charger and a car shaped like the ones households have (a
Wallbox, go-e or OCPP charger: an on/off switch, a current setting, an energy meter; a
car with a state of charge; a plugged-in sensor), made of Home Assistant template
entities and helpers (issue #17, point 3).

The session is started from the car's state of charge, the blueprint sets the current
the plan bought in each slot, the charger's meter corrects the plan, unplugging the car
stops its bids, and the session survives a restart of the integration.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import T0, NodeDirs, wait_until
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import DOMAIN
from custom_components.p2p_energy.ev_charger import (
    EvCharger,
    async_forget_ev_session,
    charging_current,
    soc_wh,
)
from market.agents import EvChargingAgent, EvSession
from market.model import Side
from market.node.clock import ManualClock
from tests.market.node_harness import Household, advance

BLUEPRINTS = Path(__file__).resolve().parents[2] / "blueprints" / "automation" / DOMAIN
SLOT = T0 + 1800  # the first slot of a new community that can be final
CURRENT_SENSOR = "sensor.maison_ev_charging_current"
CHARGER = "input_boolean.ev_charger"
CURRENT = "input_number.ev_current"
METER = "sensor.charger_energy"
SOC = "sensor.car_soc"
PLUGGED = "binary_sensor.car_plugged"


def _at(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def _state(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


@pytest.fixture
async def car(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    """The charger (switch, current 6-32 A, energy meter) and the car (state of charge,
    plugged in), as template entities over helpers the test moves."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"ev_charger": {}, "plugged": {"initial": True}}}
    )
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "ev_current": {"min": 6, "max": 32, "step": 1, "initial": 6},
                "meter_kwh": {"min": 0, "max": 100_000, "step": 0.001, "initial": 1234.5},
                "soc": {"min": 0, "max": 100, "step": 1, "initial": 40},
            }
        },
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "sensor": [
                        {
                            "name": "Charger energy",
                            "unique_id": "charger_energy",
                            "state": "{{ states('input_number.meter_kwh') }}",
                            "unit_of_measurement": "kWh",
                            "device_class": "energy",
                            "state_class": "total_increasing",
                        },
                        {
                            "name": "Car SoC",
                            "unique_id": "car_soc",
                            "state": "{{ states('input_number.soc') }}",
                            "unit_of_measurement": "%",
                            "device_class": "battery",
                        },
                    ],
                    "binary_sensor": [
                        {
                            "name": "Car plugged",
                            "unique_id": "car_plugged",
                            "state": "{{ is_state('input_boolean.plugged', 'on') }}",
                            "device_class": "plug",
                        }
                    ],
                }
            ]
        },
    )
    await hass.async_block_till_done()
    assert _state(hass, METER).state == "1234.5"
    shutil.copytree(BLUEPRINTS, hass.config.path("blueprints", "automation", DOMAIN))
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "ev",
                "alias": "ev",
                "use_blueprint": {
                    "path": f"{DOMAIN}/ev_charge_on_surplus.yaml",
                    "input": {
                        "charging_current": CURRENT_SENSOR,
                        "charger": CHARGER,
                        "charger_current": CURRENT,
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    assert _state(hass, "automation.ev").state == STATE_ON


async def _start(hass: HomeAssistant, home: MockConfigEntry, **fields: object) -> None:
    """Start a session with the template charger and car; a field given as None is left
    out of the call."""
    data = {
        "config_entry_id": home.entry_id,
        "departure": _at(T0 + 6 * 3600),
        "max_price": 0.18,
        "charger_energy": METER,
        "car_soc": SOC,
        "battery_kwh": 50,
        "plugged_in": PLUGGED,
        **fields,
    }
    await hass.services.async_call(
        DOMAIN,
        "start_ev_session",
        {key: value for key, value in data.items() if value is not None},
        blocking=True,
    )


def _ev(home: MockConfigEntry) -> EvChargingAgent:
    agent = home.runtime_data.market.node.agent("ev")
    assert isinstance(agent, EvChargingAgent)
    return agent


@pytest.mark.usefixtures("car")
async def test_a_session_charges_at_the_bought_current_learns_from_the_meter_and_survives_a_restart(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    # 40 % of 50 kWh in the car, 60 % wanted: 10 kWh by departure
    await _start(hass, home, target_soc=60)
    assert _ev(home).session.energy_wh == 10_000
    node = home.runtime_data.market.node
    bids = {o.slot: o.energy_wh for o in node.open_orders() if o.source == "ev"}
    assert bids[SLOT] == 1850  # 7.4 kW for a quarter hour
    assert _state(hass, CURRENT_SENSOR).state == "0"  # nothing planned in the slot under way
    await neighbour.node.place_order(Side.SELL, 2000, 600, SLOT)

    # The slot starts: the blueprint sets the current the plan bought and charges.
    nodes = [Household(node), neighbour]
    await advance(market_clock, nodes, node.terms.seal_time(SLOT))
    await advance(market_clock, nodes, SLOT)
    await node.run_agents_now()
    await wait_until(hass, lambda: _state(hass, CHARGER).state == STATE_ON)
    assert _state(hass, CURRENT_SENSOR).state == "32"  # 7400 W / 230 V, one phase
    assert float(_state(hass, CURRENT).state) == 32

    # The charger's meter says 1.2 kWh went in: the plan is re-made from that.
    hass.states.async_set(METER, "1235.7", {"unit_of_measurement": "kWh", "device_class": "energy"})
    await hass.services.async_call(
        "input_number", "set_value", {"entity_id": "input_number.meter_kwh", "value": 1235.7}
    )
    await hass.async_block_till_done()
    await wait_until(hass, lambda: _ev(home).charged_wh == 1200)

    # Home Assistant restarts: the same session goes on, with what was charged.
    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    restored = _ev(home)
    assert restored.session.energy_wh == 10_000
    assert restored.charged_wh == 1200
    assert home.runtime_data.market.ev.charger is not None

    # Unplugged, the session stops buying; plugged in again, it bids again.
    node = home.runtime_data.market.node
    await hass.services.async_call(
        "input_boolean", "turn_off", {"entity_id": "input_boolean.plugged"}
    )
    await hass.async_block_till_done()
    await wait_until(hass, lambda: not node.agent_enabled("ev"))
    assert [o for o in node.open_orders() if o.source == "ev"] == []
    await hass.services.async_call(
        "input_boolean", "turn_on", {"entity_id": "input_boolean.plugged"}
    )
    await wait_until(hass, lambda: [o for o in node.open_orders() if o.source == "ev"] != [])

    # Stopped, it is gone for good: not restored after another restart.
    await hass.services.async_call(
        DOMAIN, "stop_ev_session", {"config_entry_id": home.entry_id}, blocking=True
    )
    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    assert home.runtime_data.market.node.agent("ev") is None


@pytest.mark.usefixtures("car")
async def test_minimum_first_and_the_errors_of_a_session_by_state_of_charge(
    hass: HomeAssistant, home: MockConfigEntry
) -> None:
    # up to 50 % at once (5 kWh from 40 %), 80 % by departure (20 kWh)
    await _start(hass, home, target_soc=80, min_soc=50, phases=3)
    agent = _ev(home)
    assert (agent.session.energy_wh, agent.session.min_energy_wh) == (20_000, 5_000)
    schedule = agent.schedule
    assert schedule is not None
    assert schedule.slots[0].grid_wh > 0  # charging from the grid now, in the slot under way
    # 7400 W on three phases: 10 A, now
    await wait_until(hass, lambda: _state(hass, CURRENT_SENSOR).state == "10")

    # 5 kWh needed, 3 kWh more only on the neighbours' surplus: the grid covers the 5
    await _start(hass, home, energy_kwh=5, surplus_only_kwh=3, car_soc=None, battery_kwh=None)
    topped = _ev(home)
    assert (topped.session.energy_wh, topped.session.surplus_only_wh) == (8_000, 3_000)
    assert topped.schedule is not None and topped.schedule.feasible
    assert topped.schedule.grid_wh + topped.schedule.market_wh == 8_000
    assert topped.schedule.grid_wh <= 5_000

    with pytest.raises(ServiceValidationError) as err:
        await _start(hass, home, car_soc=None, battery_kwh=None)
    assert err.value.translation_key == "ev_energy_unknown"
    hass.states.async_set(SOC, "unavailable")
    with pytest.raises(ServiceValidationError) as err:
        await _start(hass, home, target_soc=80)
    assert err.value.translation_key == "ev_soc_unavailable"


async def test_a_session_without_a_meter_goes_on_for_what_it_still_lacks_after_a_restart(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    """No charger meter, no state of charge: the plan's started slots are what was
    charged, and a restart does not buy them again."""
    await _start(
        hass,
        home,
        energy_kwh=5,
        charger_energy=None,
        car_soc=None,
        battery_kwh=None,
        plugged_in=None,
    )
    node = home.runtime_data.market.node
    nodes = [Household(node), neighbour]
    # two slots of 1850 Wh start (bought or not, the plan charges them: grid fallback)
    for t_s in (T0 + 900, SLOT, SLOT + 60):
        await advance(market_clock, nodes, t_s)
        await node.run_agents_now()
    await wait_until(hass, lambda: home.runtime_data.market.ev.charged_wh == 3700)

    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    assert _ev(home).session.energy_wh == 5000 - 3700


@pytest.mark.parametrize(
    "stored",
    [
        {"session": {"energy_wh": "lots"}, "charger": {}, "charged_wh": 0, "start_wh": None},
        {"session": {}, "charger": {"phases": 2}, "charged_wh": 0, "start_wh": None},
        {"unexpected": True},
        [1, 2, 3],
    ],
)
async def test_a_damaged_stored_session_is_dropped_and_the_node_starts(
    hass: HomeAssistant, hass_storage: dict[str, Any], home: MockConfigEntry, stored: object
) -> None:
    key = f"{DOMAIN}.{home.entry_id}.ev_session"
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": stored}
    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    assert home.state is ConfigEntryState.LOADED
    assert home.runtime_data.market.node.agent("ev") is None


def test_a_charger_is_checked_and_its_current_worked_out() -> None:
    for bad in ({"phases": 2}, {"phases": True}, {"battery_wh": -1}, {"energy_entity": 5}):
        with pytest.raises(TypeError):
            EvCharger(**bad)  # type: ignore[arg-type]
    charger = EvCharger(phases=1)
    assert (charger.current_a(0), charger.current_a(1000), charger.current_a(9000)) == (0, 6, 32)
    assert charging_current(None, T0, charger) == 0


async def test_a_state_of_charge_that_is_not_a_percentage_is_unknown(hass: HomeAssistant) -> None:
    charger = EvCharger(soc_entity=SOC, battery_wh=50_000)
    for state in ("abc", "150", "nan"):
        hass.states.async_set(SOC, state)
        assert soc_wh(hass, charger) is None
    hass.states.async_set(SOC, "40")
    assert soc_wh(hass, charger) == 20_000
    assert soc_wh(hass, EvCharger()) is None


async def test_a_stored_session_whose_car_has_left_is_forgotten_and_removal_deletes_it(
    hass: HomeAssistant, hass_storage: dict[str, Any], home: MockConfigEntry
) -> None:
    key = f"{DOMAIN}.{home.entry_id}.ev_session"
    session = EvSession(
        energy_wh=5000, departure=T0 - 60, max_price=1800, min_power_w=1400, max_power_w=7400
    )
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "session": asdict(session),
            "charger": asdict(EvCharger()),
            "charged_wh": 0,
            "start_wh": None,
        },
    }
    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    assert home.runtime_data.market.node.agent("ev") is None
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {"x": 1}}
    await async_forget_ev_session(hass, home)
    assert key not in hass_storage


@pytest.mark.usefixtures("car")
async def test_a_session_without_a_meter_unplugged_and_plugged_in_again(
    hass: HomeAssistant, home: MockConfigEntry
) -> None:
    await _start(hass, home, energy_kwh=5, charger_energy=None, car_soc=None, battery_kwh=None)
    node = home.runtime_data.market.node
    hass.states.async_set(PLUGGED, "unavailable")  # not a plug's answer: nothing changes
    await hass.async_block_till_done()
    assert node.agent("ev") is not None
    await hass.services.async_call(
        "input_boolean", "turn_off", {"entity_id": "input_boolean.plugged"}, blocking=True
    )
    await wait_until(hass, lambda: node.agent("ev") is None)
    await hass.services.async_call(
        "input_boolean", "turn_on", {"entity_id": "input_boolean.plugged"}, blocking=True
    )
    await wait_until(hass, lambda: node.agent("ev") is not None)
    assert _ev(home).session.energy_wh == 5000  # nothing started yet: the same need
