"""Removing an entry: the household leaves the community, then its key and ledger go."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest.mock import patch

import pytest
from conftest import NodeDirs, wait_until
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import CONF_NODE_DIR, CONF_PEERS, DOMAIN
from market.ledger.revocation import Cause
from market.node.clock import ManualClock
from tests.market.node_harness import Household


def _dir(hass: HomeAssistant, entry: MockConfigEntry) -> Path:
    return Path(hass.config.path(".storage", DOMAIN, entry.data[CONF_NODE_DIR]))


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry, peer: str | None) -> bytes:
    if peer is not None:
        hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_PEERS: [peer]})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry.runtime_data.market.node.identity.public_key


async def test_a_removed_household_leaves_and_its_key_and_ledger_are_deleted(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household
) -> None:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    assert isinstance(entry, MockConfigEntry)
    key = await _set_up(hass, entry, f"127.0.0.1:{neighbour.node.port}")
    neighbour.node.add_peer(f"127.0.0.1:{entry.runtime_data.market.node.port}")
    await wait_until(hass, lambda: neighbour.node.status().last_sync_s_ago is not None)
    assert neighbour.node.status().members == 2
    assert await hass.config_entries.async_remove(entry.entry_id)
    revocation = neighbour.node.index.admissions.revocation(key)
    assert revocation is not None and revocation.cause is Cause.LEFT
    assert neighbour.node.status().members == 1
    assert not _dir(hass, entry).exists()


async def test_a_household_alone_in_its_community_is_deleted_at_once(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    await _set_up(hass, entry, None)
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert not _dir(hass, entry).exists()


async def test_the_data_stays_while_no_neighbour_confirmed_the_departure(
    hass: HomeAssistant, node_dirs: NodeDirs, caplog: pytest.LogCaptureFixture
) -> None:
    silent = node_dirs.headless()  # a neighbour whose node does not run
    entry = node_dirs.entry(neighbours=(silent,))
    with (
        patch("market.node.node.START_WAIT_S", 0.1),
        patch("custom_components.p2p_energy.removal.CONFIRM_TIMEOUT_S", 0.3),
    ):
        await _set_up(hass, entry, "127.0.0.1:9")
        assert await hass.config_entries.async_remove(entry.entry_id)
    assert (_dir(hass, entry) / "node_key").exists()
    assert "no neighbour confirmed that this household left" in caplog.text


async def test_a_node_directory_that_cannot_run_a_node_is_kept(
    hass: HomeAssistant, node_dirs: NodeDirs, caplog: pytest.LogCaptureFixture
) -> None:
    entry = node_dirs.entry()
    await _set_up(hass, entry, None)
    await hass.config_entries.async_unload(entry.entry_id)
    (_dir(hass, entry) / "community.json").write_text("{not json")
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert (_dir(hass, entry) / "node_key").exists()
    assert "its node could not be opened to leave" in caplog.text


async def test_an_entry_whose_directory_is_gone_is_removed(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    await _set_up(hass, entry, None)
    await hass.config_entries.async_unload(entry.entry_id)
    shutil.rmtree(_dir(hass, entry))
    assert await hass.config_entries.async_remove(entry.entry_id)
