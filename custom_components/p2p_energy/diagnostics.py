"""Diagnostics download: what a maintainer needs, without the household's identifiers."""

from __future__ import annotations

import dataclasses
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import (
    CONF_COMMUNITY_ID,
    CONF_DONGLE_ID,
    CONF_METER_ADDRESS,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_SERIAL_PORT,
)
from .runtime import P2PEnergyConfigEntry

# The meter's address is the household's delivery point; the port may be a LAN address
# and the dongle's id holds its serial number; keys, node ids and addresses would let
# anyone find the household and its neighbours.
TO_REDACT = {
    CONF_METER_ADDRESS,
    CONF_SERIAL_PORT,
    CONF_DONGLE_ID,
    CONF_NODE_NAME,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_COMMUNITY_ID,
    CONF_PEERS,
    "address",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: P2PEnergyConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings, the node's status and the meter link's health."""
    runtime = entry.runtime_data
    hub = runtime.market
    status = hub.node.status()
    data: dict[str, Any] = {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "engine_version": runtime.engine_version,
        # The node's ids, address and peers' addresses are left out altogether.
        "node": {
            "is_member": status.is_member,
            "members": status.members,
            "peers_online": status.peers_online,
            "peer_links": [
                {"online": peer.online, "last_ok_s_ago": peer.last_ok_s_ago}
                for peer in status.peers
            ],
            "ledger_entries": status.ledger_entries,
            "last_sync_s_ago": status.last_sync_s_ago,
            "clock_skew_ms": status.clock_skew_ms,
            # whether it signs: "catching_up" after a restored backup (docs/node.md)
            "chain": status.chain,
            "chain_detail": status.chain_detail,
            # what keeps failing now, None while everything works (the node_fault issue)
            "fault": status.fault,
            "counters": status.counters,
            "terms": hub.node.terms.to_json_obj(),
        },
        "market": hub.as_dict(),
    }
    if runtime.meter is not None and (snapshot := runtime.meter.snapshot) is not None:
        data["meter"] = {
            "status": dataclasses.asdict(snapshot.status),
            "counters": dataclasses.asdict(snapshot.counters),
            "labels": sorted(snapshot.frame.datasets) if snapshot.frame else [],
            "state": async_redact_data(
                dataclasses.asdict(snapshot.meter) if snapshot.meter else {}, TO_REDACT
            ),
        }
    return data
