"""The Linky hub between the reader and the entities: frames held back to one write per
update interval, what a user must see at once published at once."""

from __future__ import annotations

from conftest import NodeDirs, TicLine, wait_until
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.p2p_energy.const import (
    CONF_DONGLE_ID,
    CONF_IMPORT_POWER,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)
from custom_components.p2p_energy.meter import TicMeterHub
from market.meter.reader import TicReader
from market.meter.snapshot import MeterSnapshot, ReaderState


def _tic_entry(node_dirs: NodeDirs, url: str, interval: float) -> MockConfigEntry:
    return node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
        },
        options={CONF_UPDATE_INTERVAL: interval},
    )


async def _published(hass: HomeAssistant, entry: MockConfigEntry) -> list[MeterSnapshot]:
    """Snapshots the hub of `entry` publishes from now on."""
    published: list[MeterSnapshot] = []
    entry.async_on_unload(entry.runtime_data.meter.async_add_listener(published.append))
    return published


async def test_held_back_frames_are_written_once_per_interval(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    """Frames arrive every 50 ms; with a 0.3 s interval the newest is written about
    three times a second, by the interval's timer."""
    entry = _tic_entry(node_dirs, tic_line.url, interval=0.3)
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub: TicMeterHub = entry.runtime_data.meter
    await wait_until(hass, lambda: hub.snapshot is not None and hub.snapshot.available)
    published = await _published(hass, entry)
    frames_before = hub.reader.snapshot().counters.frames
    start = hass.loop.time()
    await wait_until(hass, lambda: len(published) >= 3)
    elapsed = hass.loop.time() - start
    frames = hub.reader.snapshot().counters.frames - frames_before
    assert elapsed >= 0.3 * 2  # the first may come at once, the next ones wait their turn
    assert frames > len(published) * 2
    assert published[-1].counters.frames > published[0].counters.frames  # the newest
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_unplugged_dongle_is_shown_at_once_despite_a_held_back_frame(
    hass: HomeAssistant, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    entry = _tic_entry(node_dirs, tic_line.url, interval=3600)
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub: TicMeterHub = entry.runtime_data.meter
    await wait_until(hass, lambda: hub.snapshot is not None and hub.snapshot.available)
    frames = hub.reader.snapshot().counters.frames
    await wait_until(hass, lambda: hub.reader.snapshot().counters.frames > frames + 2)
    published = await _published(hass, entry)
    assert published == []  # later frames are held back for an hour

    await tic_line.stop()
    await wait_until(hass, lambda: bool(published))
    assert published[0].status.state is ReaderState.RECONNECTING
    assert hass.states.get("sensor.linky_dongle").state == "reconnecting"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_hub_stopped_before_it_started(hass: HomeAssistant) -> None:
    """An entry whose set-up failed before the meter started still unloads cleanly."""
    hub = TicMeterHub(hass, TicReader("socket://127.0.0.1:9"), 10.0)
    await hub.async_stop()
    assert hub.reader.status.state is ReaderState.STOPPED
    assert hub.snapshot is None


async def test_diagnostics_of_a_node_reading_existing_sensors_have_no_meter(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry(
        data={CONF_METER_SOURCE: METER_SOURCE_ENTITIES, CONF_IMPORT_POWER: "sensor.grid_in"}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "meter" not in diagnostics
    assert diagnostics["entry"]["data"][CONF_IMPORT_POWER] == "sensor.grid_in"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_do_not_show_the_dongles_serial_number(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, tic_line: TicLine, node_dirs: NodeDirs
) -> None:
    entry = _tic_entry(node_dirs, tic_line.url, interval=10)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_DONGLE_ID: "0403:6015_DA0ABC_FTDI_uTInfo-V3.0"}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["entry"]["data"][CONF_DONGLE_ID] == "**REDACTED**"
    assert "DA0ABC" not in str(diagnostics)
    assert await hass.config_entries.async_unload(entry.entry_id)
