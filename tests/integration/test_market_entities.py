"""The market's entities: what the household traded, its open orders and the community."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from conftest import T0, NodeDirs, advance_to, wait_until
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.p2p_energy.const import (
    CONF_EXPORT_POWER,
    CONF_FLEXIBLE_LOAD,
    CONF_IMPORT_POWER,
    CONF_METER_SOURCE,
    CONF_SELL_SURPLUS,
    CONF_TARIFF,
    DOMAIN,
    METER_SOURCE_ENTITIES,
)
from market.model import Side
from market.node.clock import ManualClock

SLOT = T0 + 1800  # the first slot a new community clears (the one before has no electorate)
NODE = "sensor.maison"
COMMUNITY = "sensor.rue_des_lilas"
METER = {
    CONF_METER_SOURCE: METER_SOURCE_ENTITIES,
    CONF_IMPORT_POWER: "sensor.grid_in",
    CONF_EXPORT_POWER: "sensor.grid_out",
}


def _state(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


async def _loaded(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR, Platform.SWITCH])
async def test_entities(
    hass: HomeAssistant,
    node_dirs: NodeDirs,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
) -> None:
    """Every market entity with its device class, unit, state class and first state."""
    hass.states.async_set("sensor.grid_in", "400", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.grid_out", "0", {"unit_of_measurement": "W"})
    entry = node_dirs.entry(data=METER)
    with patch("custom_components.p2p_energy.PLATFORMS", [platform]):
        await _loaded(hass, entry)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_devices_of_the_node_and_of_its_community(
    hass: HomeAssistant, node_dirs: NodeDirs, device_registry: dr.DeviceRegistry
) -> None:
    entry = await _loaded(hass, node_dirs.entry())
    hub = entry.runtime_data.market
    # Looked up through the entry: `async_get_device(identifiers=...)` is deprecated in newer
    # HA and its replacement does not exist in 2025.4.4.
    devices = {
        identifier: device
        for device in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        for identifier in device.identifiers
    }
    node = devices[(DOMAIN, hub.node_id)]
    community = devices[(DOMAIN, hub.community_id)]
    assert node.name == "Maison"
    assert community.name == "Rue des Lilas"
    assert community.entry_type is dr.DeviceEntryType.SERVICE
    assert _state(hass, f"{COMMUNITY}_members").state == "1"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_traded_slot_shows_while_it_is_delivered_and_counts_for_the_day(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    entry = await _loaded(hass, node_dirs.entry())
    node = entry.runtime_data.market.node
    await node.place_order(Side.SELL, 2000, 500, SLOT)
    await node.place_order(Side.BUY, 1500, 1800, SLOT)
    await hass.async_block_till_done()
    orders = _state(hass, f"{NODE}_open_orders")
    assert orders.state == "2"
    assert {o["side"] for o in orders.attributes["orders"]} == {"buy", "sell"}
    assert orders.attributes["orders"][0]["slot_start"] == "2027-01-15T08:30:00+00:00"

    # Sealed and final before the slot starts: the price is known, nothing delivered yet.
    await advance_to(hass, market_clock, node.terms.seal_time(SLOT))
    await wait_until(
        hass, lambda: _state(hass, f"{COMMUNITY}_last_clearing_price").state != STATE_UNKNOWN
    )
    price = _state(hass, f"{COMMUNITY}_last_clearing_price")
    assert price.state == "0.115"  # uniform price halfway between 0.05 and 0.18
    assert price.attributes["unit_of_measurement"] == "EUR/kWh"
    assert _state(hass, f"{NODE}_open_orders").state == "0"
    assert _state(hass, "binary_sensor.maison_buying_from_neighbours").state == STATE_OFF
    assert _state(hass, f"{NODE}_energy_bought_today").state == "0.0"

    # Delivery: the household buys (and, trading with itself here, sells) 1.5 kWh.
    await advance_to(hass, market_clock, SLOT)
    assert _state(hass, "binary_sensor.maison_buying_from_neighbours").state == STATE_ON
    assert _state(hass, f"{NODE}_energy_bought_this_slot").state == "1.5"
    assert _state(hass, f"{NODE}_energy_sold_this_slot").state == "1.5"
    bought = _state(hass, f"{NODE}_energy_bought_today")
    assert bought.state == "1.5"
    assert bought.attributes["last_reset"] == "2027-01-15T00:00:00-08:00"
    spent = _state(hass, f"{NODE}_spent_today")
    assert float(spent.state) == pytest.approx(0.1725)  # 1.5 kWh at 0.115 EUR
    assert spent.attributes["unit_of_measurement"] == "EUR"
    assert float(_state(hass, f"{NODE}_earned_today").state) == pytest.approx(0.1725)

    # The next slot has no trade; the day keeps its totals until local midnight.
    await advance_to(hass, market_clock, SLOT + 900)
    assert _state(hass, "binary_sensor.maison_buying_from_neighbours").state == STATE_OFF
    assert _state(hass, f"{NODE}_energy_bought_this_slot").state == "0.0"
    assert _state(hass, f"{NODE}_energy_sold_today").state == "1.5"

    await advance_to(hass, market_clock, T0 + 86_400)
    bought = _state(hass, f"{NODE}_energy_bought_today")
    assert bought.state == "0.0"
    assert bought.attributes["last_reset"] == "2027-01-16T00:00:00-08:00"
    assert float(_state(hass, f"{NODE}_spent_today").state) == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_todays_totals_survive_a_restart(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    entry = await _loaded(hass, node_dirs.entry())
    node = entry.runtime_data.market.node
    await node.place_order(Side.SELL, 2000, 500, SLOT)
    await node.place_order(Side.BUY, 1000, 1800, SLOT)
    await advance_to(hass, market_clock, node.terms.seal_time(SLOT))
    await advance_to(hass, market_clock, SLOT + 60)
    assert _state(hass, f"{NODE}_energy_bought_today").state == "1.0"

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert _state(hass, f"{NODE}_energy_bought_today").state == "1.0"
    assert float(_state(hass, f"{NODE}_spent_today").state) == pytest.approx(0.115)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_only_todays_stored_totals_are_restored(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(f"{NODE}_energy_bought_today", "2.5"),
                {"day": "2027-01-15T00:00:00-08:00", "value": 2500},
            ),
            (
                State(f"{NODE}_energy_sold_today", "4.0"),
                {"day": "2027-01-14T00:00:00-08:00", "value": 4000},
            ),
            (State(f"{NODE}_spent_today", "1.0"), {"garbage": True}),
        ],
    )
    entry = await _loaded(hass, node_dirs.entry())
    assert _state(hass, f"{NODE}_energy_bought_today").state == "2.5"
    assert _state(hass, f"{NODE}_energy_sold_today").state == "0.0"
    assert float(_state(hass, f"{NODE}_spent_today").state) == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_pv_seller_offers_the_exported_surplus(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    hass.states.async_set("sensor.grid_in", "0", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.grid_out", "2.4", {"unit_of_measurement": "kW"})
    entry = await _loaded(hass, node_dirs.entry(data=METER))
    # The agents decide every minute; this one has a quarter of surplus readings.
    await advance_to(hass, market_clock, T0 + 60)
    await wait_until(hass, lambda: _state(hass, f"{NODE}_open_orders").state != "0")
    orders = _state(hass, f"{NODE}_open_orders").attributes["orders"]
    assert {order["side"] for order in orders} == {"sell"}
    assert {order["source"] for order in orders} == {"sell_surplus"}
    # 2.4 kW for a quarter of an hour, less for the later slots of the forecast.
    assert orders[0]["energy_kwh"] == 0.6
    await hass.config_entries.async_unload(entry.entry_id)


async def test_switching_the_pv_seller_off_takes_its_orders_back(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    hass.states.async_set("sensor.grid_out", "2400", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.grid_in", "0", {"unit_of_measurement": "W"})
    entry = await _loaded(hass, node_dirs.entry(data=METER))
    await advance_to(hass, market_clock, T0 + 60)
    await wait_until(hass, lambda: _state(hass, f"{NODE}_open_orders").state != "0")
    switch = "switch.maison_sell_solar_surplus"
    assert _state(hass, switch).state == STATE_ON

    await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
    assert _state(hass, switch).state == STATE_OFF
    assert _state(hass, f"{NODE}_open_orders").state == "0"
    assert entry.options[CONF_SELL_SURPLUS] is False
    # No restart for a switch: the same node keeps running.
    hub = entry.runtime_data.market
    await advance_to(hass, market_clock, T0 + 120)
    assert _state(hass, f"{NODE}_open_orders").state == "0"

    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    assert entry.runtime_data.market is hub
    assert entry.options[CONF_SELL_SURPLUS] is True
    await wait_until(hass, lambda: _state(hass, f"{NODE}_open_orders").state != "0")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_flexible_load_buys_in_its_daytime_window(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    entry = await _loaded(
        hass, node_dirs.entry(options={CONF_FLEXIBLE_LOAD: False, CONF_SELL_SURPLUS: False})
    )
    switch = "switch.maison_buy_for_the_flexible_load"
    assert _state(hass, switch).state == STATE_OFF
    await advance_to(hass, market_clock, T0 + 9 * 3600 + 30 * 60)  # 09:30 local
    await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
    assert entry.options[CONF_FLEXIBLE_LOAD] is True
    orders = _state(hass, f"{NODE}_open_orders").attributes["orders"]
    # The open slots of its horizon from 10:00 local, 2 kW x 15 min each.
    assert [order["slot_start"] for order in orders] == [
        "2027-01-15T18:00:00+00:00",
        "2027-01-15T18:15:00+00:00",
        "2027-01-15T18:30:00+00:00",
    ]
    assert {(order["side"], order["energy_kwh"], order["source"]) for order in orders} == {
        ("buy", 0.5, "flexible_load")
    }

    # The next day's window is added at midnight: the load buys again tomorrow.
    await advance_to(hass, market_clock, T0 + 86_400 + 9 * 3600 + 45 * 60)
    await wait_until(hass, lambda: _state(hass, f"{NODE}_open_orders").state != "0")
    orders = _state(hass, f"{NODE}_open_orders").attributes["orders"]
    assert orders[0]["slot_start"] == "2027-01-16T18:00:00+00:00"
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(("contract", "limit"), [("tempo", 1494), ("auto", None)])
async def test_the_flexible_load_never_bids_above_the_households_own_grid_price(
    hass: HomeAssistant,
    node_dirs: NodeDirs,
    market_clock: ManualClock,
    contract: str,
    limit: int | None,
) -> None:
    # A Tempo household's blue-day peak price (0.1494) is below the community's ceiling:
    # bounded by the ceiling alone, its agent would buy dearer than its own grid.
    options = {CONF_FLEXIBLE_LOAD: True, CONF_SELL_SURPLUS: False, CONF_TARIFF: contract}
    entry = await _loaded(hass, node_dirs.entry(options=options))
    hub = entry.runtime_data.market
    ceiling = hub.terms.ceiling
    assert ceiling > 1494
    slot = int(dt_util.parse_datetime("2027-01-15T18:00:00+00:00").timestamp())  # 10:00 local
    await advance_to(hass, market_clock, hub.terms.gate_closure(slot) - 1)
    await wait_until(hass, lambda: _state(hass, f"{NODE}_open_orders").state != "0")
    orders = _state(hass, f"{NODE}_open_orders").attributes["orders"]
    prices = {o["price"] for o in orders if o["slot_start"] == "2027-01-15T18:00:00+00:00"}
    # At the end of its ramp the bid reaches its limit: the contract's, or the ceiling
    # when no contract is known (no meter names one here).
    assert prices == {(limit or ceiling) / 10_000}
    await hass.config_entries.async_unload(entry.entry_id)
