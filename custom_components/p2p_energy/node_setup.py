"""Opening a config entry's node: its clock, its address on the LAN, Home Assistant's
HTTP session and shared zeroconf responder, and the test hooks of `runtime.NODE_HOOKS`."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from homeassistant.components import network, zeroconf
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from market.agents import InvalidAgentInputError
from market.ledger.errors import LedgerError
from market.node import Node, NodeConfig
from market.node.clock import Clock, ScaledClock, SystemClock
from market.node.errors import DataDirError, NodeSetupError

from .const import CONF_PORT, DOMAIN, ENV_SIM_CLOCK
from .flow_helpers import entry_peers
from .market_hub import MarketHub, storage_not_ready
from .meter import TicMeterHub
from .runtime import NODE_HOOKS, P2PEnergyConfigEntry

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf


def node_clock() -> Clock:
    """The wall clock, or the accelerated demo clock of `ENV_SIM_CLOCK`."""
    if NODE_HOOKS.clock_factory is not None:
        return NODE_HOOKS.clock_factory()
    spec = os.environ.get(ENV_SIM_CLOCK)
    if not spec:
        return SystemClock()
    try:
        return ScaledClock.parse(spec)
    except ValueError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_sim_clock",
            translation_placeholders={"variable": ENV_SIM_CLOCK, "value": spec},
        ) from err


async def _advertised_host(hass: HomeAssistant) -> str | None:
    # The address Home Assistant itself uses on the LAN (Settings > Network), so that
    # invites and announcements carry the interface the user chose.
    try:
        return await network.async_get_source_ip(hass)
    except HomeAssistantError:
        return None


async def async_node_config(
    hass: HomeAssistant, entry: P2PEnergyConfigEntry, data_dir: Path
) -> NodeConfig:
    """The configuration of the entry's node."""
    config = NodeConfig(
        data_dir=data_dir,
        host=NODE_HOOKS.host,
        port=int(entry.data[CONF_PORT]),
        advertise_host=await _advertised_host(hass),
        peers=tuple(entry_peers(entry.data, entry.options)),
    )
    if NODE_HOOKS.gossip is not None:
        config = replace(config, gossip=NODE_HOOKS.gossip)
    return config


async def async_open_hub(
    hass: HomeAssistant, entry: P2PEnergyConfigEntry, data_dir: Path, meter: TicMeterHub | None
) -> MarketHub:
    """Open the entry's node (its ledger and key), not yet serving.

    Raises ConfigEntryNotReady when the data directory cannot be written (read-only,
    not Home Assistant's to write: retried, as the user may fix it), ConfigEntryError
    when its data cannot run a node.
    """
    clock = node_clock()
    aiozc: AsyncZeroconf = await zeroconf.async_get_async_instance(hass)
    config = await async_node_config(hass, entry, data_dir)
    try:
        node = await Node.open(
            config, clock=clock, session=async_get_clientsession(hass), zeroconf=aiozc
        )
    except DataDirError as err:
        raise storage_not_ready(data_dir, err) from err
    except (NodeSetupError, LedgerError, OSError, ValueError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="node_unreadable",
            translation_placeholders={"path": str(data_dir), "error": str(err)},
        ) from err
    try:
        return MarketHub(hass, entry, node, meter)
    except InvalidAgentInputError as err:
        await node.stop()
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_options",
            translation_placeholders={"error": str(err)},
        ) from err
