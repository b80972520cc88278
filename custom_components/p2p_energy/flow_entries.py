"""What the flows read from and change in the integration's config entries: the ports
other nodes use, the entry that reads a dongle, titles, the community of an entry's
node, and restarting an entry that a change cannot reach otherwise."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant, callback

from market.ledger.community import Community

from .const import (
    CONF_DONGLE_ID,
    CONF_METER_SOURCE,
    CONF_NODE_DIR,
    CONF_PORT,
    CONF_SERIAL_PORT,
    DEFAULT_PORT,
    DOMAIN,
    METER_SOURCE_TIC,
)
from .flow_helpers import read_community
from .runtime import node_path


def entry_title(community_name: str, node_name: str) -> str:
    """A config entry's title: the community, then this household's node."""
    return f"{community_name} \N{EN DASH} {node_name}"


def taken_ports(hass: HomeAssistant, exclude_entry_id: str | None = None) -> set[int]:
    """Ports the nodes of other entries listen on (0, any free port, never clashes)."""
    return {
        port
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry.entry_id != exclude_entry_id
        and isinstance(port := entry.data.get(CONF_PORT), int)
        and port != 0
    }


def free_port(hass: HomeAssistant) -> int:
    """The port a new node is offered: the default one, or the next no other node uses."""
    taken = taken_ports(hass)
    port = DEFAULT_PORT
    while port in taken:
        port += 1
    return port


@callback
def restart_unless_loaded(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A loaded entry applies its changes in its update listener; one still retrying (a
    taken port, a dongle not found) has none yet, so it is tried again at once."""
    if entry.state is ConfigEntryState.SETUP_RETRY:
        hass.config_entries.async_schedule_reload(entry.entry_id)


def entry_reading(hass: HomeAssistant, dongle: str, paths: set[str]) -> ConfigEntry | None:
    """The entry that reads this dongle: the one that knows it, else the one that
    reads one of its `paths` (set up by path, or before dongles were identified)."""
    entries = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_TIC
    ]
    for entry in entries:
        if entry.data.get(CONF_DONGLE_ID) == dongle:
            return entry
    for entry in entries:
        if entry.data.get(CONF_SERIAL_PORT) in paths:
            return entry
    return None


@callback
def follow_dongle(hass: HomeAssistant, entry: ConfigEntry, dongle: str, port: str) -> None:
    """Record where the entry's dongle is now (discovery-update-info); a node whose
    dongle moved restarts to read it there."""
    moved = entry.data.get(CONF_SERIAL_PORT) != port
    updates = {CONF_SERIAL_PORT: port}
    if entry.data.get(CONF_DONGLE_ID) is None:
        updates[CONF_DONGLE_ID] = dongle  # it may move later: know it from now on
    hass.config_entries.async_update_entry(entry, data={**entry.data, **updates})
    if moved:
        restart_unless_loaded(hass, entry)


async def async_community_of(hass: HomeAssistant, entry: ConfigEntry) -> Community | None:
    """The community the node of `entry` belongs to, None if its data dir holds none
    (or none that can be read)."""
    path = node_path(hass, entry.data[CONF_NODE_DIR])
    return await hass.async_add_executor_job(read_community, path)
