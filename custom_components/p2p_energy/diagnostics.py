"""Diagnostics download: what a maintainer needs, without the household's identifiers."""

from __future__ import annotations

import dataclasses
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_METER_ADDRESS, CONF_NODE_NAME, CONF_SERIAL_PORT
from .runtime import P2PEnergyConfigEntry

# The meter's address is the household's delivery point; the port may be a LAN address.
TO_REDACT = {CONF_METER_ADDRESS, CONF_SERIAL_PORT, CONF_NODE_NAME, "address"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: P2PEnergyConfigEntry
) -> dict[str, Any]:
    """Return the entry's settings and the meter link's health."""
    runtime = entry.runtime_data
    data: dict[str, Any] = {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "engine_version": runtime.engine_version,
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
