"""Setting up and unloading a household node."""

from __future__ import annotations

from pathlib import Path

from conftest import NodeDirs
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from custom_components.p2p_energy.const import CONF_NODE_DIR, DOMAIN
from market import __version__ as engine_version


async def test_setup_and_unload(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    entry = node_dirs.entry()

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    runtime = entry.runtime_data
    assert runtime.node_name == "Maison"
    assert runtime.engine_version == engine_version
    assert runtime.data_dir.is_dir()
    assert runtime.data_dir == Path(hass.config.path(".storage", DOMAIN, entry.data[CONF_NODE_DIR]))
    assert runtime.market.node.data.path == runtime.data_dir
    for service in ("place_order", "cancel_order", "create_invite", "start_ev_session"):
        assert hass.services.has_service(DOMAIN, service)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
