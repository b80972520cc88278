"""Linky sensors fed by a real TIC line (socket://) through the engine's reader."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from conftest import T0, NodeDirs, TicLine, advance_to, wait_until
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from custom_components.p2p_energy.const import (
    CONF_EXPORT_POWER,
    CONF_IMPORT_POWER,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)
from custom_components.p2p_energy.serial_ports import list_serial_ports
from market.agents import PvSellerAgent
from market.ledger import Kind, ReadingBody
from market.meter.encoder import encode_frame
from market.meter.frame import Mode
from market.node.clock import ManualClock

IMPORT = "sensor.linky_energy_imported"


def _tic_entry(node_dirs: NodeDirs, url: str, interval: int = 1) -> MockConfigEntry:
    return node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
        },
        options={CONF_UPDATE_INTERVAL: interval},
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sensor_states(
    hass: HomeAssistant,
    tic_line: TicLine,
    node_dirs: NodeDirs,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every sensor the capture supports, with device classes, units and values."""
    entry = _tic_entry(node_dirs, tic_line.url, interval=60)  # one write: stable counters
    with patch("custom_components.p2p_energy.PLATFORMS", [Platform.SENSOR]):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_until(hass, lambda: hass.states.get(IMPORT) is not None)
    # The meter's sensors (the market's are in test_market_entities).
    meter = [
        entity
        for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if entity.unique_id.startswith("064468368739_")
    ]
    assert meter
    for entity in meter:
        assert entity == snapshot(name=f"{entity.entity_id}-entry")
        assert hass.states.get(entity.entity_id) == snapshot(name=f"{entity.entity_id}-state")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_values_match_the_capture_and_go_unavailable_when_unplugged(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    entry = _tic_entry(node_dirs, tic_line.url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(hass, lambda: hass.states.get(IMPORT) is not None)

    energy = hass.states.get(IMPORT)
    assert energy is not None
    # EAST 011887649 Wh, shown in kWh for the Energy dashboard.
    assert energy.state == "11887.649"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    assert hass.states.get("sensor.linky_apparent_power_drawn").state == "240"  # SINSTS 00240
    assert hass.states.get("sensor.linky_voltage_l1").state == "230"  # URMS1 230
    assert hass.states.get("sensor.linky_current_l1").state == "1"  # IRMS1 001
    assert hass.states.get("sensor.linky_surplus_power").state == "-240"  # no injection
    assert hass.states.get("sensor.linky_tariff_period").state == "BASE"  # LTARF
    assert hass.states.get("sensor.linky_tempo_colour_today").state == "none"  # STGE bits 24-25
    assert hass.states.get("sensor.linky_dongle").state == "connected"
    assert hass.states.get("binary_sensor.linky_overcurrent").state == "off"
    # Disabled by default: the per-period indexes and the noisy diagnostics.
    assert hass.states.get("sensor.linky_index_easf01") is None

    await tic_line.stop()
    await wait_until(hass, lambda: hass.states.get(IMPORT).state == STATE_UNAVAILABLE)
    assert hass.states.get("sensor.linky_dongle").state == "reconnecting"
    assert hass.states.get("binary_sensor.linky_overcurrent").state == STATE_UNAVAILABLE

    await tic_line.start()  # the dongle is back on the same port
    entry.runtime_data.meter.reader._backoff_initial = 0.05
    await wait_until(hass, lambda: hass.states.get(IMPORT).state == "11887.649", limit_s=20)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(IMPORT).state == STATE_UNAVAILABLE


async def test_updates_are_throttled(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    """Frames arrive every 50 ms here; entities are written once per interval."""
    entry = _tic_entry(node_dirs, tic_line.url, interval=60)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(hass, lambda: hass.states.get(IMPORT) is not None)
    hub = entry.runtime_data.meter
    first = hass.states.get("sensor.linky_apparent_power_drawn").last_reported
    frames_before = hub.reader.snapshot().counters.frames
    await wait_until(hass, lambda: hub.reader.snapshot().counters.frames >= frames_before + 5)
    assert hass.states.get("sensor.linky_apparent_power_drawn").last_reported == first
    await hass.config_entries.async_unload(entry.entry_id)


async def test_surplus_from_existing_entities(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    hass.states.async_set("sensor.grid_in", "0.5", {"unit_of_measurement": "kW"})
    hass.states.async_set("sensor.grid_out", "1800", {"unit_of_measurement": "W"})
    entry = node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_ENTITIES,
            CONF_IMPORT_POWER: "sensor.grid_in",
            CONF_EXPORT_POWER: "sensor.grid_out",
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    surplus = "sensor.grid_meter_surplus_power"
    assert hass.states.get(surplus).state == "1300"
    hass.states.async_set("sensor.grid_out", "0", {"unit_of_measurement": "W"})
    await hass.async_block_till_done()
    assert hass.states.get(surplus).state == "-500"
    hass.states.async_set("sensor.grid_in", "unavailable")
    await hass.async_block_till_done()
    assert hass.states.get(surplus).state == STATE_UNAVAILABLE
    hass.states.async_set("sensor.grid_in", "12", {"unit_of_measurement": "°C"})
    await hass.async_block_till_done()
    assert hass.states.get(surplus).state == STATE_UNAVAILABLE


async def test_surplus_of_a_power_that_is_not_a_number_is_unavailable(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    """The surplus sensor and the agents' readings share one sample of the entities."""
    hass.states.async_set("sensor.grid_in", "on", {"unit_of_measurement": "W"})
    entry = node_dirs.entry(
        data={CONF_METER_SOURCE: METER_SOURCE_ENTITIES, CONF_IMPORT_POWER: "sensor.grid_in"},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    readings = entry.runtime_data.market.readings
    surplus = "sensor.grid_meter_surplus_power"
    assert hass.states.get(surplus).state == STATE_UNAVAILABLE
    assert len(readings) == 0
    hass.states.async_set("sensor.grid_in", "300", {"unit_of_measurement": "W"})
    await hass.async_block_till_done()
    assert hass.states.get(surplus).state == "-300"  # no export entity: nothing exported
    assert readings.surplus_w == -300
    assert len(readings) == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_serial_ports_are_listed_with_their_stable_paths(hass: HomeAssistant) -> None:
    ports = await hass.async_add_executor_job(list_serial_ports)
    for path, label in ports.items():
        assert path.startswith("/dev/")
        assert label.startswith(path)


async def test_overcurrent_is_shown_at_once(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    """An overcurrent warning is not held back by a long update interval."""
    normal = encode_frame(
        Mode.HISTORIC,
        [
            ("ADCO", "031428097115", None),
            ("OPTARIF", "BASE", None),
            ("ISOUSC", "30", None),
            ("BASE", "004523119", None),
            ("PTEC", "TH..", None),
            ("IINST", "012", None),
            ("IMAX", "090", None),
            ("PAPP", "02890", None),
        ],
    )
    over = encode_frame(
        Mode.HISTORIC,
        [
            ("ADCO", "031428097115", None),
            ("OPTARIF", "BASE", None),
            ("ISOUSC", "30", None),
            ("BASE", "004523120", None),
            ("PTEC", "TH..", None),
            ("IINST", "034", None),
            ("ADPS", "034", None),
            ("IMAX", "090", None),
            ("PAPP", "07820", None),
        ],
    )
    tic_line.data = normal
    entry = _tic_entry(node_dirs, tic_line.url, interval=300)
    assert await hass.config_entries.async_setup(entry.entry_id)
    overcurrent = "binary_sensor.linky_overcurrent"
    await wait_until(hass, lambda: getattr(hass.states.get(overcurrent), "state", None) == "off")
    assert hass.states.get(IMPORT).state == "4523.119"

    tic_line.data = over
    await wait_until(hass, lambda: hass.states.get(overcurrent).state == "on")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_agents_take_the_contract_the_linky_names(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    # The capture's NGTF names the base contract; with the "auto" option (the default)
    # the household's agents bound their prices by it from then on.
    entry = _tic_entry(node_dirs, tic_line.url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    agents = entry.runtime_data.market.agents
    assert agents.limits.tariff is None
    await wait_until(hass, lambda: agents.limits.tariff is not None)
    assert agents.limits.tariff is not None and agents.limits.tariff.name == "base"
    seller = entry.runtime_data.market.node.agent("sell_surplus")
    assert isinstance(seller, PvSellerAgent) and seller.limits == agents.limits
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_linky_index_is_signed_as_a_reading_per_slot(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    # The capture repeats one frame: EAST stays at 11 887 649 Wh, so the slot measured
    # between two boundaries holds 0 Wh, signed on the household's own chain.
    entry = _tic_entry(node_dirs, tic_line.url)
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub = entry.runtime_data.market
    node = hub.node

    def heard_at(t_s: int) -> bool:
        readings = hub.readings.observe(t_s).readings
        return bool(readings) and readings[-1].at >= t_s

    for t_s in (T0 + 1, T0 + 901, T0 + 1801):
        await advance_to(hass, market_clock, t_s)
        await wait_until(hass, lambda t=t_s: heard_at(t))
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 2)
    entries = await node.ledger.entries(author=node.identity.public_key, kind=Kind.READING)
    assert [ReadingBody.decode(e.body) for e in entries] == [
        ReadingBody(T0, 0, 0),
        ReadingBody(T0 + 900, 0, 0),
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)
