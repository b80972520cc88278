"""The household's node starts with its config entry, stops with it, and comes back
with the same identity and ledger."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from unittest.mock import MagicMock, patch

import pytest
from conftest import T0, NodeDirs, wait_until
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import translation
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.p2p_energy.const import (
    CONF_MAX_BUY_PRICE,
    CONF_MAX_IMPORT_W,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_SELL_SURPLUS,
    DOMAIN,
    ENV_SIM_CLOCK,
)
from custom_components.p2p_energy.runtime import NODE_HOOKS
from market.gossip import GossipConfig
from market.gossip.discovery import SERVICE_TYPE
from market.model import Side
from market.node.clock import ScaledClock, SystemClock
from market.node.datadir import COMMUNITY_FILE
from tests.market.read_only import read_only

SLOT = T0 + 3600


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_the_node_serves_while_loaded_and_stops_on_unload(
    hass: HomeAssistant, node_dirs: NodeDirs, mock_async_zeroconf: MagicMock
) -> None:
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    node = entry.runtime_data.market.node
    assert node.identity.public_key.hex() == entry.data[CONF_NODE_ID]
    assert node.port is not None
    assert _port_open(node.port)
    # Announced through Home Assistant's shared responder, as the household's node.
    announced = mock_async_zeroconf.async_register_service.call_args.args[0]
    assert announced.type == SERVICE_TYPE
    assert announced.properties[b"nid"] == entry.data[CONF_NODE_ID].encode()
    # The household's name ("Maison") stays at home: anyone on the LAN hears this.
    assert set(announced.properties) == {b"cid", b"nid", b"port", b"proto"}
    assert announced.name == f"p2p-energy-{entry.data[CONF_NODE_ID][:8]}.{SERVICE_TYPE}"
    # Invites and announcements carry the address Home Assistant uses on the LAN.
    assert node.address == f"10.10.10.10:{node.port}"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not _port_open(node.port)
    mock_async_zeroconf.async_unregister_service.assert_called_once()
    assert node.ledger._closed


async def test_a_reload_keeps_the_node_id_and_its_ledger(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    node = entry.runtime_data.market.node
    order_id = await node.place_order(Side.BUY, 1500, 1800, SLOT)
    entries = node.status().ledger_entries

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    reopened = entry.runtime_data.market.node
    assert reopened is not node
    assert reopened.identity.public_key == node.identity.public_key
    assert reopened.status().ledger_entries == entries
    assert [order.order_id for order in reopened.order_book(SLOT)] == [order_id]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_taken_port_retries_later(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        entry = node_dirs.entry(data={CONF_PORT: port})
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason is not None
        assert str(port) in entry.reason

    # The port is free again: the retry starts the node, its ledger was closed cleanly.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await wait_until(hass, lambda: entry.state is ConfigEntryState.LOADED)
    assert entry.runtime_data.market.node.port == port
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_unreadable_node_directory_is_an_error(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    path = node_dirs.root / "config" / ".storage" / DOMAIN / entry.data[CONF_NODE_DIR]
    (path / COMMUNITY_FILE).write_text("{not json", encoding="utf-8")
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "node_unreadable"


async def test_a_read_only_node_directory_retries_until_it_can_be_written(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    path = node_dirs.root / "config" / ".storage" / DOMAIN / entry.data[CONF_NODE_DIR]
    with read_only(path):
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason is not None
        assert f"cannot write in {path}" in entry.reason
        strings = await translation.async_get_translations(hass, "en", "exceptions", [DOMAIN])
        message = strings[f"component.{DOMAIN}.exceptions.node_storage.message"]
        assert message.startswith("The node cannot write its data in {path}: {error}.")

    # The disk is writable again: the retry starts the node.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await wait_until(hass, lambda: entry.state is ConfigEntryState.LOADED)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_without_a_source_ip_the_node_finds_its_own_address(
    hass: HomeAssistant, node_dirs: NodeDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Home Assistant's network helper may know no LAN address; the node's default
    gossip timings are used without the test hook."""
    monkeypatch.setattr(NODE_HOOKS, "gossip", None)
    entry = node_dirs.entry()
    # Zeroconf, set up first, asks the same helper for its own announcements.
    assert await async_setup_component(hass, "zeroconf", {})
    with (
        patch(
            "custom_components.p2p_energy.node_setup.network.async_get_source_ip",
            side_effect=HomeAssistantError("no source ip"),
        ),
        # The node's own guess probes a route to a public address (no socket here).
        patch("market.node.node.advertised_host", return_value="127.0.0.1") as guess,
    ):
        assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    assert node.config.advertise_host is None
    guess.assert_called_once()
    assert node.config.gossip == GossipConfig()
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_demo_clock_comes_from_the_environment(
    hass: HomeAssistant, node_dirs: NodeDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NODE_HOOKS, "clock_factory", None)
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert isinstance(entry.runtime_data.market.node.clock, SystemClock)
    await hass.config_entries.async_unload(entry.entry_id)

    monkeypatch.setenv(ENV_SIM_CLOCK, f"{T0}:{T0}:60")
    assert await hass.config_entries.async_setup(entry.entry_id)
    clock = entry.runtime_data.market.node.clock
    assert isinstance(clock, ScaledClock)
    assert clock.speed == 60
    await hass.config_entries.async_unload(entry.entry_id)

    monkeypatch.setenv(ENV_SIM_CLOCK, "fast please")
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "invalid_sim_clock"


async def test_home_assistant_stopping_stops_the_node(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    assert node.port is not None
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not _port_open(node.port)
    assert node.ledger._closed


async def test_peers_of_the_options_win(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    # Neither answers: loopback ports nobody listens on.
    entry = node_dirs.entry(
        data={CONF_PEERS: ["127.0.0.1:9"]}, options={CONF_PEERS: ["127.0.0.1:7"]}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    urls = {peer.url for peer in entry.runtime_data.market.node.peers.all()}
    assert urls == {"http://127.0.0.1:7"}
    await hass.config_entries.async_unload(entry.entry_id)


async def test_changed_options_restart_the_node_but_agent_switches_and_limits_do_not(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub = entry.runtime_data.market
    assert hub.agents.enabled("sell_surplus")

    hass.config_entries.async_update_entry(entry, options={CONF_SELL_SURPLUS: False})
    await hass.async_block_till_done()
    assert entry.runtime_data.market is hub
    assert not hub.agents.enabled("sell_surplus")

    # Nor do the agents' prices and quiet hours: the running agents take them.
    live = {
        CONF_SELL_SURPLUS: False,
        CONF_MAX_BUY_PRICE: 1500,
        CONF_QUIET_START: "18:00:00",
        CONF_QUIET_END: "20:00:00",
    }
    hass.config_entries.async_update_entry(entry, options=live)
    await hass.async_block_till_done()
    assert entry.runtime_data.market is hub
    assert hub.agents.limits.max_buy_price == 1500
    assert hub.agents.limits.quiet == ((18 * 60, 20 * 60),)

    hass.config_entries.async_update_entry(entry, options={**live, CONF_MAX_IMPORT_W: 6000})
    await hass.async_block_till_done()
    assert entry.runtime_data.market is not hub
    assert entry.runtime_data.market.agents.limits.max_import_w == 6000
    assert not entry.runtime_data.market.agents.enabled("sell_surplus")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_unloading_waits_for_nothing_left_running(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    """The slot clock and status refresh are gone once the entry is unloaded."""
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    tasks_before = {task.get_name() for task in asyncio.all_tasks()}
    assert any(name.startswith("p2p-node") for name in tasks_before)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert not any(name.startswith(("p2p-node", DOMAIN)) for name in names)


async def test_options_the_agents_refuse_are_an_error(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry(options={CONF_MAX_IMPORT_W: -1})
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "invalid_options"
    # The node was closed again: a corrected entry opens the same ledger.
    hass.config_entries.async_update_entry(entry, options={CONF_MAX_IMPORT_W: 6000})
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    await hass.config_entries.async_unload(entry.entry_id)


async def _reconfigure(hass: HomeAssistant, entry: MockConfigEntry, name: str, port: int) -> str:
    """Runs the reconfigure flow as the user does; returns how it ended."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "reconfigure", "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: name, CONF_PORT: port, CONF_PEERS: []}
    )
    return str(result["reason"])


async def test_reconfigure_restarts_the_running_node_on_its_new_port(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    """Reconfiguring a running node applies at once, through the entry's update
    listener (HA 2026.12 stops flows from reloading an entry that has one)."""
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    hub = entry.runtime_data.market
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        new_port = probe.getsockname()[1]

    assert await _reconfigure(hass, entry, "Maison bleue", new_port) == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.market is not hub
    assert entry.runtime_data.node_name == "Maison bleue"
    assert entry.runtime_data.market.node.port == new_port
    assert _port_open(new_port)

    # Saving the same settings again changes nothing, so nothing restarts.
    hub = entry.runtime_data.market
    assert await _reconfigure(hass, entry, "Maison bleue", new_port) == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.runtime_data.market is hub
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_starts_a_node_that_waits_for_its_port(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    """An entry retrying on a taken port has no update listener yet: moving it to a free
    port through reconfigure still starts it."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        entry = node_dirs.entry(data={CONF_PORT: taken.getsockname()[1]})
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            new_port = probe.getsockname()[1]
        assert await _reconfigure(hass, entry, "Maison", new_port) == "reconfigure_successful"
        await wait_until(hass, lambda: entry.state is ConfigEntryState.LOADED)
    assert entry.runtime_data.market.node.port == new_port
    await hass.config_entries.async_unload(entry.entry_id)
