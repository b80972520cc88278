"""The P2P Energy Market integration: a household node of a local energy market."""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from market import __version__ as engine_version
from market.meter.reader import TicReader

from .const import (
    CONF_METER_SOURCE,
    CONF_NODE_NAME,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL_S,
    DOMAIN,
    METER_SOURCE_TIC,
)
from .meter import TicMeterHub
from .runtime import P2PEnergyConfigEntry, P2PEnergyRuntime

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


def node_data_dir(hass: HomeAssistant, entry_id: str) -> Path:
    """Where the node of a config entry keeps its ledger and keys."""
    return Path(hass.config.path(".storage", DOMAIN, entry_id))


def _meter_hub(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> TicMeterHub | None:
    if entry.data.get(CONF_METER_SOURCE) != METER_SOURCE_TIC:
        return None
    reader = TicReader(
        entry.data[CONF_SERIAL_PORT], baudrate="auto", mode=entry.data.get(CONF_TIC_MODE, "auto")
    )
    interval = entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL_S)
    return TicMeterHub(hass, reader, float(interval))


async def async_setup_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> bool:
    """Start the household node of a config entry."""
    data_dir = node_data_dir(hass, entry.entry_id)
    # mkdir touches the disk: keep it off the event loop.
    await hass.async_add_executor_job(lambda: data_dir.mkdir(parents=True, exist_ok=True))
    meter = _meter_hub(hass, entry)
    entry.runtime_data = P2PEnergyRuntime(
        node_name=entry.data[CONF_NODE_NAME],
        data_dir=data_dir,
        engine_version=engine_version,
        meter=meter,
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    if meter is not None:
        # Started after the platforms so that the first snapshot finds its entities.
        await meter.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    _LOGGER.debug("Node %s started (engine %s)", entry.title, engine_version)
    return True


async def _async_options_updated(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> bool:
    """Stop the household node of a config entry."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded and entry.runtime_data.meter is not None:
        await entry.runtime_data.meter.async_stop()
    return unloaded
