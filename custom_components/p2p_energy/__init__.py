"""The P2P Energy Market integration: a household node of a local energy market."""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.core import HomeAssistant

from market import __version__ as engine_version

from .const import CONF_NODE_NAME, DOMAIN
from .runtime import P2PEnergyConfigEntry, P2PEnergyRuntime

_LOGGER = logging.getLogger(__name__)


def node_data_dir(hass: HomeAssistant, entry_id: str) -> Path:
    """Where the node of a config entry keeps its ledger and keys."""
    return Path(hass.config.path(".storage", DOMAIN, entry_id))


async def async_setup_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> bool:
    """Start the household node of a config entry."""
    data_dir = node_data_dir(hass, entry.entry_id)
    # mkdir touches the disk: keep it off the event loop.
    await hass.async_add_executor_job(lambda: data_dir.mkdir(parents=True, exist_ok=True))
    entry.runtime_data = P2PEnergyRuntime(
        node_name=entry.data[CONF_NODE_NAME],
        data_dir=data_dir,
        engine_version=engine_version,
    )
    _LOGGER.debug("Node %s started (engine %s)", entry.title, engine_version)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> bool:
    """Stop the household node of a config entry."""
    return True
