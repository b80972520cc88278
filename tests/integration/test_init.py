"""Setting up and unloading a household node."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import CONF_NODE_NAME, DOMAIN
from market import __version__ as engine_version


async def test_setup_and_unload(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="maison", data={CONF_NODE_NAME: "Maison"})
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    runtime = entry.runtime_data
    assert runtime.node_name == "Maison"
    assert runtime.engine_version == engine_version
    assert runtime.data_dir.is_dir()
    assert runtime.data_dir == Path(hass.config.path(".storage", DOMAIN, entry.entry_id))

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
