"""The P2P Energy Market integration: a household node of a local energy market."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from market import __version__ as engine_version
from market.meter.reader import TicReader

from .const import (
    CONF_DONGLE_ID,
    CONF_METER_SOURCE,
    CONF_NODE_DIR,
    CONF_NODE_NAME,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL_S,
    DOMAIN,
    METER_SOURCE_TIC,
)
from .ev_charger import async_forget_ev_session
from .household_agents import AGENT_OPTIONS, LIMIT_OPTIONS
from .issues import async_delete_entry_issues
from .meter import TicMeterHub
from .node_setup import async_open_hub
from .removal import async_leave_and_forget
from .runtime import P2PEnergyConfigEntry, P2PEnergyRuntime, node_path
from .services import async_setup_services

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR, Platform.SWITCH]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the market's services (they name the node they act on)."""
    async_setup_services(hass)
    return True


def _meter_hub(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> TicMeterHub | None:
    if entry.data.get(CONF_METER_SOURCE) != METER_SOURCE_TIC:
        return None
    reader = TicReader(
        entry.data[CONF_SERIAL_PORT], baudrate="auto", mode=entry.data.get(CONF_TIC_MODE, "auto")
    )
    interval = entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL_S)
    return TicMeterHub(hass, reader, float(interval))


async def async_setup_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> bool:
    """Open and start the household's node, then its entities and meter."""
    data_dir = node_path(hass, entry.data[CONF_NODE_DIR])
    meter = _meter_hub(hass, entry)
    hub = await async_open_hub(hass, entry, data_dir, meter)
    # Serving first: a port already taken must fail the set-up before any platform.
    await hub.async_start()
    entry.runtime_data = P2PEnergyRuntime(
        node_name=entry.data[CONF_NODE_NAME],
        data_dir=data_dir,
        engine_version=engine_version,
        market=hub,
        meter=meter,
        started_data=_running_data(entry.data),
        started_options=dict(entry.options),
    )

    async def _stop_on_shutdown(_event: Event) -> None:
        await hub.async_stop()

    # async_listen, not async_listen_once: a once-listener is dropped as it fires, and
    # removing it again at unload logs an error; this one is removed at unload only.
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _stop_on_shutdown))
    try:
        await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    except BaseException:
        await hub.async_stop()
        raise
    # Today's totals were restored by the sensors; later restores are stale.
    hub.trades.accepts_restore = False
    if meter is not None:
        # Started after the platforms so that the first snapshot finds its entities.
        await meter.async_start()
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    _LOGGER.debug("Node %s started (engine %s)", entry.title, engine_version)
    return True


# What the running agents take without restarting the node.
_LIVE_OPTIONS = frozenset((*AGENT_OPTIONS.values(), *LIMIT_OPTIONS))


def _without_live_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in options.items() if key not in _LIVE_OPTIONS}


def _running_data(data: Mapping[str, Any]) -> dict[str, Any]:
    # Which dongle the meter is, once learnt, changes nothing for the running node.
    return {key: value for key, value in data.items() if key != CONF_DONGLE_ID}


async def _async_entry_updated(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> None:
    """The one place that applies a changed entry (options, reconfigure, a moved dongle):
    Home Assistant wants flows to leave reloading to the update listener (2026.12)."""
    runtime = entry.runtime_data
    if _running_data(entry.data) != runtime.started_data or _without_live_options(
        entry.options
    ) != _without_live_options(runtime.started_options):
        await hass.config_entries.async_reload(entry.entry_id)
        return
    # Only agents were switched, or their prices or quiet hours changed (the options
    # flow, the set_limits action): no need to restart the node for that.
    await runtime.market.agents.async_set_limits(entry.options)
    for agent_id, option in AGENT_OPTIONS.items():
        if option in entry.options:
            await runtime.market.agents.async_set_enabled(agent_id, bool(entry.options[option]))


async def async_unload_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> bool:
    """Stop the household's node and meter."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        if entry.runtime_data.meter is not None:
            await entry.runtime_data.meter.async_stop()
        await entry.runtime_data.market.async_stop()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> None:
    """The user confirmed the removal: the household leaves the community, then its key
    and ledger are deleted (kept while no neighbour confirmed it left, see removal.py)."""
    async_delete_entry_issues(hass, entry.entry_id)
    await async_forget_ev_session(hass, entry)
    await async_leave_and_forget(hass, entry)
