"""What the config flow leaves behind is enough for the integration to start the node:
no set-up is patched out here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from flow_support import Member, configure, start_member, to_community_menu
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.p2p_energy.const import (
    CONF_COMMUNITY_NAME,
    CONF_IMPORT_POWER,
    CONF_INVITE,
    CONF_PORT,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
def config_dir(hass: HomeAssistant, tmp_path: Path) -> None:
    """Nodes keep their files in a per-test configuration folder."""
    hass.config.config_dir = str(tmp_path / "config")


async def _with_entities(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigEntry:
    result = await configure(hass, result, {"next_step_id": "entities"})
    result = await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry: ConfigEntry = result["result"]
    await hass.async_block_till_done()
    return entry


async def test_a_created_community_starts_its_node(hass: HomeAssistant) -> None:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, {CONF_COMMUNITY_NAME: "Rue des Lilas", CONF_PORT: 0})
    entry = await _with_entities(hass, result)
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
async def member(tmp_path: Path) -> AsyncIterator[Member]:
    member = await start_member(tmp_path / "member")
    yield member
    await member.node.stop()


async def test_a_joined_node_starts(hass: HomeAssistant, member: Member) -> None:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "join"})
    code = member.node.create_invite()
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 0})
    entry = await _with_entities(hass, result)
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)
