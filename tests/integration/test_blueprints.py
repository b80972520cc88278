"""The automation blueprints, loaded into Home Assistant and acting on a real market.

Each blueprint file is copied where importing it puts it (the config directory's
`blueprints/automation/p2p_energy/`) and used by an automation with real entities: the
EV charger follows a real trade with a neighbour's headless node on loopback, the
seller's offers land in the household node's book, and the phone hears of what a real
clearing bought and sold.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import T0, NodeDirs, wait_until
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, HomeAssistant, ServiceCall, State, callback
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.p2p_energy.const import CONF_SELL_SURPLUS, DOMAIN
from market.agents import Observation
from market.model import Side
from market.node.clock import ManualClock
from market.node.index import OrderStatus
from tests.market.node_harness import Household, advance, run_slot

BLUEPRINTS = Path(__file__).resolve().parents[2] / "blueprints" / "automation" / DOMAIN
SLOT = T0 + 1800  # the first slot of a new community that can be final (00:30 local)
BOUGHT_NOW = "binary_sensor.maison_buying_from_neighbours"
CHARGER = "input_boolean.ev_charger"
CURRENT = "input_number.ev_current"


def _at(t_s: int) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)


def _state(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def _listen_cleared(hass: HomeAssistant) -> list[str]:
    """The starts of the slots the household's node clears, as they are cleared."""
    starts: list[str] = []

    @callback
    def cleared(event: Event) -> None:
        starts.append(event.data["slot_start"])

    hass.bus.async_listen(f"{DOMAIN}_slot_cleared", cleared)
    return starts


@pytest.fixture(autouse=True)
def blueprints(hass: HomeAssistant, node_dirs: NodeDirs) -> NodeDirs:
    """The blueprint files in the test's config directory, as importing them leaves them."""
    shutil.copytree(BLUEPRINTS, hass.config.path("blueprints", "automation", DOMAIN))
    return node_dirs


async def _use_blueprint(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> str:
    """Set up an automation from one of the blueprints; its entity id.

    Home Assistant shows an automation whose blueprint it rejects as unavailable: a
    running ("on") automation is one whose blueprint and inputs were accepted.
    """
    # Loaded in every running Home Assistant (homeassistant.turn_on and turn_off).
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": name,
                "alias": name,
                "use_blueprint": {"path": f"{DOMAIN}/{name}.yaml", "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    entity_id = f"automation.{name}"
    assert _state(hass, entity_id).state == STATE_ON
    return entity_id


# ---------------------------------------------------------------- a neighbour to trade with


async def _place(
    hass: HomeAssistant,
    home: MockConfigEntry,
    side: str,
    energy_kwh: float,
    price: float,
    slot: int,
) -> None:
    """An order of the household, through the integration's action."""
    await hass.services.async_call(
        DOMAIN,
        "place_order",
        {
            "config_entry_id": home.entry_id,
            "side": side,
            "energy_kwh": energy_kwh,
            "price": price,
            "slot": _at(slot).isoformat(),
        },
        blocking=True,
    )


async def _buy_from_neighbour(
    hass: HomeAssistant, home: MockConfigEntry, neighbour: Household
) -> list[Household]:
    """The household bids 1.5 kWh of SLOT at 0.18, the neighbour offers 2 kWh at 0.06
    (they clear at 0.12); the two nodes, to step the clock with."""
    await _place(hass, home, "buy", 1.5, 0.18, SLOT)
    await neighbour.node.place_order(Side.SELL, 2000, 600, SLOT)
    return [Household(home.runtime_data.market.node), neighbour]


# ---------------------------------------------------------------- EV charging


@pytest.fixture
async def charger(hass: HomeAssistant) -> None:
    """An EV charger with an on/off switch and a current setting (6-32 A)."""
    assert await async_setup_component(hass, "input_boolean", {"input_boolean": {"ev_charger": {}}})
    assert await async_setup_component(
        hass,
        "input_number",
        {"input_number": {"ev_current": {"min": 6, "max": 32, "step": 1, "initial": 6}}},
    )


@pytest.mark.usefixtures("charger")
async def test_the_ev_charges_in_the_slots_bought(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    cleared = _listen_cleared(hass)
    await _use_blueprint(
        hass,
        "ev_charge_on_surplus",
        {"bought_now": BOUGHT_NOW, "charger": CHARGER, "charger_current": CURRENT, "current_a": 20},
    )
    assert _state(hass, BOUGHT_NOW).state == STATE_OFF
    assert _state(hass, CHARGER).state == STATE_OFF
    nodes = await _buy_from_neighbour(hass, home, neighbour)

    # Cleared before delivery: bought, but not yet the slot to charge in.
    await advance(market_clock, nodes, neighbour.node.terms.seal_time(SLOT))
    await wait_until(hass, lambda: _at(SLOT).isoformat() in cleared)
    assert _state(hass, CHARGER).state == STATE_OFF

    # The bought slot starts: the charger is on, at the chosen current.
    await advance(market_clock, nodes, SLOT)
    await wait_until(hass, lambda: _state(hass, CHARGER).state == STATE_ON)
    assert _state(hass, BOUGHT_NOW).state == STATE_ON
    assert float(_state(hass, CURRENT).state) == 20

    # The next slot bought nothing: the charger stops.
    await run_slot(market_clock, nodes, SLOT + 900)
    await wait_until(hass, lambda: _state(hass, CHARGER).state == STATE_OFF)
    assert _state(hass, BOUGHT_NOW).state == STATE_OFF
    assert float(_state(hass, CURRENT).state) == 20  # left as it was


@pytest.mark.usefixtures("charger")
async def test_a_charger_without_a_current_setting(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    await _use_blueprint(
        hass, "ev_charge_on_surplus", {"bought_now": BOUGHT_NOW, "charger": CHARGER}
    )
    nodes = await _buy_from_neighbour(hass, home, neighbour)
    await run_slot(market_clock, nodes, SLOT)
    await wait_until(hass, lambda: _state(hass, CHARGER).state == STATE_ON)
    assert float(_state(hass, CURRENT).state) == 6  # not the blueprint's to set


@pytest.mark.usefixtures("charger")
async def test_what_the_consumption_buyer_bought_does_not_charge_the_car(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    """The household's base load bought in one slot leaves the charger off; a purchase
    for the car in the next slot (the sensor stays on, who bought changes) turns it on."""
    await _use_blueprint(
        hass, "ev_charge_on_surplus", {"bought_now": BOUGHT_NOW, "charger": CHARGER}
    )
    node = home.runtime_data.market.node
    nodes = [Household(node), neighbour]
    # What the node would have learnt from the household's readings: 800 Wh in SLOT,
    # bid close to its gate (the bid at its limit: the clock jumps, the ramp does not).
    node.set_observation_source(lambda _now_s: Observation(demand={SLOT: 800}))
    node.set_agent_enabled("buy_consumption", True)  # the fixture's household has it off
    await advance(market_clock, nodes, T0 + 960)
    await node.run_agents_now()
    await neighbour.node.place_order(Side.SELL, 2000, 600, SLOT)
    await _place(hass, home, "buy", 1.5, 0.18, SLOT + 900)
    await neighbour.node.place_order(Side.SELL, 2000, 600, SLOT + 900)

    await run_slot(market_clock, nodes, SLOT)
    await wait_until(hass, lambda: _state(hass, BOUGHT_NOW).state == STATE_ON)
    assert _state(hass, BOUGHT_NOW).attributes["bought_by"] == {"buy_consumption": 800}
    assert _state(hass, CHARGER).state == STATE_OFF

    await run_slot(market_clock, nodes, SLOT + 900)
    await wait_until(hass, lambda: _state(hass, CHARGER).state == STATE_ON)
    assert _state(hass, BOUGHT_NOW).attributes["bought_by"] == {"automation": 1500}


# ---------------------------------------------------------------- selling the surplus


@pytest.mark.parametrize(("unit", "per_w"), [("W", 1), ("kW", 0.001)])
async def test_the_surplus_is_offered_at_the_minimum_price(
    hass: HomeAssistant,
    blueprints: NodeDirs,
    market_clock: ManualClock,
    freezer: FrozenDateTimeFactory,
    unit: str,
    per_w: float,
) -> None:
    # The blueprint names the next slot from Home Assistant's time: the market's here.
    # (Frozen, Home Assistant's event loop does not run its timers until moved on.)
    freezer.move_to(_at(T0 - 60))
    entry = blueprints.entry(options={CONF_SELL_SURPLUS: False})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data.market
    # The power exported to the grid, as a template sensor of a meter would show it.
    assert await async_setup_component(
        hass,
        "input_number",
        {"input_number": {"export_w": {"min": 0, "max": 9000, "initial": 100}}},
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": {
                "sensor": {
                    "name": "Grid export",
                    "state": f"{{{{ states('input_number.export_w') | float * {per_w} }}}}",
                    "unit_of_measurement": unit,
                    "device_class": "power",
                }
            }
        },
    )
    await hass.async_block_till_done()
    assert float(_state(hass, "sensor.grid_export").state) == 100 * per_w
    automation = await _use_blueprint(
        hass,
        "sell_surplus_min_price",
        {
            "node": entry.entry_id,
            "surplus_power": "sensor.grid_export",
            "min_price": 0.085,
            "min_energy_kwh": 0.05,
        },
    )

    async def quarter_hour(t_s: int) -> None:
        """Both clocks at `t_s`, and Home Assistant's timers due by then run."""
        market_clock.advance_to(t_s * 1000)
        freezer.move_to(_at(t_s))
        async_fire_time_changed(hass, _at(t_s))
        await hass.async_block_till_done()

    # 100 W for 15 minutes is 0.025 kWh: too little to offer.
    await quarter_hour(T0)
    assert hub.node.order_book(T0 + 900) == []

    await hass.services.async_call(
        "input_number",
        "set_value",
        {"entity_id": "input_number.export_w", "value": 2000},
        blocking=True,
    )
    await hass.async_block_till_done()  # the template sensor follows
    await quarter_hour(T0 + 900)
    [order] = hub.node.open_orders()
    assert order.slot == T0 + 1800  # the next slot, whose gate is open for 10 more minutes
    assert (order.side, order.energy_wh, order.price) == (Side.SELL, 500, 850)
    assert order.status is OrderStatus.LIVE
    assert order.source == "automation"  # placed by the blueprint, not by a person

    # Turned off, the automation offers nothing more (and leaves no timer behind).
    await hass.services.async_call(
        "automation", "turn_off", {"entity_id": automation}, blocking=True
    )
    await quarter_hour(T0 + 1800)
    assert hub.node.order_book(T0 + 2700) == []
    await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- notifications


async def test_the_phone_hears_of_each_trade(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    sent: list[dict[str, Any]] = []

    @callback
    def notify(call: ServiceCall) -> None:
        sent.append(dict(call.data))

    hass.services.async_register("notify", "test_phone", notify)
    cleared = _listen_cleared(hass)
    await _use_blueprint(hass, "notify_trade", {"notify_action": "notify.test_phone"})

    nodes = await _buy_from_neighbour(hass, home, neighbour)
    await run_slot(market_clock, nodes, SLOT)
    await wait_until(hass, lambda: bool(sent))
    assert sent == [
        {"title": "Neighbourhood energy", "message": "00:30-00:45: bought 1.5 kWh at 0.12 EUR/kWh."}
    ]

    # The household sells in the slot after next; the next one it does not trade in.
    await _place(hass, home, "sell", 0.8, 0.05, SLOT + 1800)
    await neighbour.node.place_order(Side.BUY, 1000, 1500, SLOT + 1800)
    await run_slot(market_clock, nodes, SLOT + 900)
    await wait_until(hass, lambda: _at(SLOT + 900).isoformat() in cleared)
    await hass.async_block_till_done()
    assert len(sent) == 1  # cleared, with nothing for the household: no notification

    await run_slot(market_clock, nodes, SLOT + 1800)
    await wait_until(hass, lambda: len(sent) == 2)
    assert sent[1]["message"] == "01:00-01:15: sold 0.8 kWh at 0.1 EUR/kWh."
