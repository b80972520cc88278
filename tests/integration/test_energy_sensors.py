"""Energy sensors a household already has are its meter: the node signs each slot's
index deltas from them, reads its PV production into its own statements, and prices
those at the household's tariff (docs/settlement.md, "Readings").

The sensors are real template sensors over input_numbers, in kWh and in Wh; the node
runs on the tests' manual clock, stepped slot by slot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import T0, NodeDirs, TicLine, advance_to, wait_until
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_EXPORT_ENERGY,
    CONF_IMPORT_ENERGY,
    CONF_IMPORT_POWER,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_PV_ENERGY,
    CONF_SERIAL_PORT,
    CONF_TARIFF,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)
from custom_components.p2p_energy.energy_sensors import energy_wh
from market.ledger import Kind, ReadingBody
from market.meter.encoder import encode_frame
from market.meter.frame import Mode
from market.node import Node
from market.node.clock import ManualClock
from market.settlement.records import OwnSlot
from market.tariff import PEAK_OFF_PEAK_TARIFF, GridPrices

IMPORT_ENERGY = "sensor.grid_import_energy"  # kWh
EXPORT_ENERGY = "sensor.grid_export_energy"  # Wh
PV_ENERGY = "sensor.solar_energy"  # kWh
GRID_POWER = "sensor.grid_power"


def _template(name: str, source: str, unit: str, state_class: str) -> dict[str, str]:
    return {
        "name": name,
        "state": f"{{{{ states('input_number.{source}') }}}}",
        "availability": "{{ is_state('input_boolean.meter_online', 'on') }}",
        "unit_of_measurement": unit,
        "device_class": "energy",
        "state_class": state_class,
    }


@pytest.fixture
async def sensors(hass: HomeAssistant) -> None:
    """The grid's import (kWh) and export (Wh) indexes and the PV production (kWh),
    unavailable while input_boolean.meter_online is off."""
    number = {"min": 0, "max": 1e9, "step": 0.001, "mode": "box"}
    assert await async_setup_component(
        hass,
        "input_number",
        {
            "input_number": {
                "grid_import": number | {"initial": 11887.649},
                "grid_export": number | {"initial": 5000, "step": 1},
                "solar": number | {"initial": 3200.5},
            }
        },
    )
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"meter_online": {"initial": True}}}
    )
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "sensor": [
                        _template("Grid import energy", "grid_import", "kWh", "total_increasing"),
                        _template("Grid export energy", "grid_export", "Wh", "total_increasing"),
                        _template("Solar energy", "solar", "kWh", "total"),
                    ]
                }
            ]
        },
    )
    hass.states.async_set(GRID_POWER, "500", {"unit_of_measurement": "W"})
    await hass.async_block_till_done()
    assert hass.states.get(IMPORT_ENERGY).state == "11887.649"


async def _set(hass: HomeAssistant, number: str, value: float) -> None:
    await hass.services.async_call(
        "input_number", "set_value", {"entity_id": f"input_number.{number}", "value": value}
    )
    await hass.async_block_till_done()


async def _online(hass: HomeAssistant, online: bool) -> None:
    service = "turn_on" if online else "turn_off"
    await hass.services.async_call(
        "input_boolean", service, {"entity_id": "input_boolean.meter_online"}
    )
    await hass.async_block_till_done()


def _entities_entry(
    node_dirs: NodeDirs, data: dict[str, Any], options: dict[str, Any] | None = None
) -> MockConfigEntry:
    return node_dirs.entry(
        data={CONF_METER_SOURCE: METER_SOURCE_ENTITIES, CONF_IMPORT_POWER: GRID_POWER, **data},
        options=options,
    )


async def _readings(node: Node) -> list[ReadingBody]:
    entries = await node.ledger.entries(author=node.identity.public_key, kind=Kind.READING)
    return [ReadingBody.decode(entry.body) for entry in entries]


async def _own_slot(hass: HomeAssistant, node: Node, slot: int) -> OwnSlot:
    """The household's own record of `slot` in its settlement store, once it is there."""
    found: dict[int, OwnSlot] = {}

    async def read() -> None:
        _settled, own = await node.settled_slots(slot, slot + node.terms.slot_s)
        found.update(own)

    await read()
    async with asyncio.timeout(10):
        while slot not in found:
            await hass.async_block_till_done()
            await read()
    return found[slot]


# ---------------------------------------------------------------- what a sensor shows


@pytest.mark.parametrize(
    ("state", "unit", "wh"),
    [
        ("11887.649", "kWh", 11_887_649),
        ("1.001", "kWh", 1001),  # 1000.9999... through a float
        ("0.0015", "MWh", 1500),
        ("12.9", "Wh", 12),  # rounded down
        ("3.6", "kJ", 1),
        ("-3", "kWh", 0),  # never negative
        ("unavailable", "kWh", None),
        ("unknown", "kWh", None),
        ("on", "kWh", None),
        ("nan", "kWh", None),
        ("1e999999", "kWh", None),
        ("12", "W", None),  # a power, not an energy
        ("12", None, None),
    ],
)
async def test_an_energy_sensor_is_read_in_whole_wh(
    hass: HomeAssistant, state: str, unit: str | None, wh: int | None
) -> None:
    attributes = {} if unit is None else {"unit_of_measurement": unit}
    hass.states.async_set("sensor.index", state, attributes)
    assert energy_wh(hass, "sensor.index") == wh


# ---------------------------------------------------------------- readings


@pytest.mark.usefixtures("sensors")
async def test_energy_sensors_are_the_readings_the_node_signs(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    """Each slot's reading is the sensors' delta to the Wh, measured (not estimated
    from the power entity, which still feeds the agents); a slot in which the sensors
    did not change is heard at its boundaries all the same."""
    entry = _entities_entry(
        node_dirs, {CONF_IMPORT_ENERGY: IMPORT_ENERGY, CONF_EXPORT_ENERGY: EXPORT_ENERGY}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub = entry.runtime_data.market
    node = hub.node

    await advance_to(hass, market_clock, T0 + 300)
    await _set(hass, "grid_import", 11888.0)
    await _set(hass, "grid_export", 5123)
    hass.states.async_set(GRID_POWER, "2400", {"unit_of_measurement": "W"})
    await advance_to(hass, market_clock, T0 + 600)
    await _set(hass, "grid_import", 11888.012)
    await advance_to(hass, market_clock, T0 + 901)
    await advance_to(hass, market_clock, T0 + 1801)
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 2)
    assert await _readings(node) == [
        ReadingBody(T0, 11_888_012 - 11_887_649, 5123 - 5000),
        ReadingBody(T0 + 900, 0, 0),
    ]
    # The agents still see the power entity.
    assert hub.readings.observe(T0 + 1801).readings[-1].import_w == 2400
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("sensors")
async def test_a_sensor_unavailable_over_a_boundary_leaves_a_gap(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    """Unavailable from before the boundary at T0+1800 until 130 s after it: the slot
    before has no reading (a silent gap, counted) and no value is made up; the slots
    after are read again once two boundaries are heard."""
    entry = _entities_entry(node_dirs, {CONF_IMPORT_ENERGY: IMPORT_ENERGY})
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    await advance_to(hass, market_clock, T0 + 901)
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 1)

    await advance_to(hass, market_clock, T0 + 1700)
    await _online(hass, False)
    assert hass.states.get(IMPORT_ENERGY).state == STATE_UNAVAILABLE
    await _set(hass, "grid_import", 11888.0)
    await advance_to(hass, market_clock, T0 + 1801)
    await advance_to(hass, market_clock, T0 + 1930)
    await _online(hass, True)
    await wait_until(hass, lambda: node.status().counters["reading_gaps_silent"] == 1)
    for t_s in (T0 + 2701, T0 + 3601):
        await advance_to(hass, market_clock, t_s)
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 2)
    assert await _readings(node) == [ReadingBody(T0, 0, 0), ReadingBody(T0 + 2700, 0, 0)]
    assert await hass.config_entries.async_unload(entry.entry_id)


# ---------------------------------------------------------------- the household's own slot


@pytest.mark.usefixtures("sensors")
async def test_a_linky_beats_the_energy_sensors_and_the_pv_sensor_feeds_the_own_slot(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    """With a Linky, its index is the reading (the capture's EAST does not move) even
    when the entry names an import energy sensor; the PV sensor (set in the options)
    still gives the household's own slot its production."""
    entry = node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: tic_line.url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
            CONF_IMPORT_ENERGY: IMPORT_ENERGY,
        },
        options={CONF_UPDATE_INTERVAL: 1, CONF_PV_ENERGY: PV_ENERGY},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub = entry.runtime_data.market
    node = hub.node

    def heard_at(t_s: int) -> bool:
        readings = hub.readings.observe(t_s).readings
        return bool(readings) and readings[-1].at >= t_s

    await wait_until(hass, lambda: heard_at(T0))
    await advance_to(hass, market_clock, T0 + 400)
    await _set(hass, "solar", 3201.734)
    await _set(hass, "grid_import", 11888.149)
    await advance_to(hass, market_clock, T0 + 901)
    await wait_until(hass, lambda: heard_at(T0 + 901))
    await advance_to(hass, market_clock, T0 + 1801)
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 2)
    assert await _readings(node) == [ReadingBody(T0, 0, 0), ReadingBody(T0 + 900, 0, 0)]

    await advance_to(hass, market_clock, node.terms.settle_time(T0))
    own = await _own_slot(hass, node, T0)
    assert own.pv_wh == 3_201_734 - 3_200_500
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_tariff_option_prices_the_own_slot(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    """An HP/HC household's off-peak slot is priced at the off-peak price in its own
    record, not at the community's reference prices."""
    slot = next(t for t in range(T0, T0 + 86_400, 900) if PEAK_OFF_PEAK_TARIFF.is_off_peak_hour(t))
    hass.states.async_set(GRID_POWER, "500", {"unit_of_measurement": "W"})
    entry = _entities_entry(node_dirs, {}, {CONF_TARIFF: "hp_hc"})
    market_clock.advance_to(slot * 1000)
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    # the power is heard every minute through the slot: an estimated reading, so the
    # household has a row in the slot's settlement and its own prices are recorded
    for step, t in enumerate(range(slot, slot + 961, 60)):
        await advance_to(hass, market_clock, t)
        hass.states.async_set(GRID_POWER, str(501 - step % 2), {"unit_of_measurement": "W"})
    await wait_until(hass, lambda: node.stats["readings_signed"] == 1)
    await advance_to(hass, market_clock, node.terms.settle_time(slot))
    own = await _own_slot(hass, node, slot)
    assert PEAK_OFF_PEAK_TARIFF.off_peak is not None
    assert own.prices == GridPrices(PEAK_OFF_PEAK_TARIFF.off_peak, PEAK_OFF_PEAK_TARIFF.feed_in)
    assert own.prices != GridPrices(node.terms.ceiling, node.terms.floor)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_contract_the_linky_names_prices_the_own_slot(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    """An HP/HC Linky (OPTARIF HC..) telling off-peak hours (PTEC HC..) at 09:00 in
    Paris: with the automatic contract, the own slot takes its off-peak price."""
    tic_line.data = encode_frame(
        Mode.HISTORIC,
        [
            ("ADCO", "031428097115", None),
            ("OPTARIF", "HC..", None),
            ("ISOUSC", "30", None),
            ("HCHC", "001234567", None),
            ("HCHP", "002345678", None),
            ("PTEC", "HC..", None),
            ("IINST", "002", None),
            ("IMAX", "090", None),
            ("PAPP", "00460", None),
        ],
    )
    assert not PEAK_OFF_PEAK_TARIFF.is_off_peak_hour(T0)  # by the clock, a peak hour
    entry = node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: tic_line.url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "031428097115",
        },
        options={CONF_UPDATE_INTERVAL: 1},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub = entry.runtime_data.market
    await wait_until(hass, lambda: hub.agents.limits.tariff is not None, limit_s=20)
    # the Linky is heard just after the slot's end too: the slot is read
    await advance_to(hass, market_clock, T0 + 901)
    await wait_until(hass, lambda: hub.node.stats["readings_signed"] == 1, limit_s=20)
    await advance_to(hass, market_clock, hub.terms.settle_time(T0))
    own = await _own_slot(hass, hub.node, T0)
    assert PEAK_OFF_PEAK_TARIFF.off_peak is not None
    assert own.prices.buy == PEAK_OFF_PEAK_TARIFF.off_peak
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_every_linky_frame_reaches_the_node_whatever_the_update_interval(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    """The entities are updated once an hour here, yet the node hears the meter at each
    slot boundary: it is handed every frame (the demo's fast clock found this)."""
    entry = node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: tic_line.url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
        },
        options={CONF_UPDATE_INTERVAL: 3600},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    for t in (T0 + 1, T0 + 901):
        await advance_to(hass, market_clock, t)
        await asyncio.sleep(0.2)  # frames keep coming every 50 ms
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 1)
    assert await _readings(node) == [ReadingBody(T0, 0, 0)]
    assert await hass.config_entries.async_unload(entry.entry_id)
