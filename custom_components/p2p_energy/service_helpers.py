"""What every service of the integration shares: the node a call names, its times and
its translated refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, cast

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .market_hub import MarketHub
from .runtime import P2PEnergyConfigEntry
from .trades import slot_datetime

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_ENERGY_KWH: Final = "energy_kwh"

ENTRY_FIELDS: dict[vol.Marker, Any] = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}
PRICE = vol.All(vol.Coerce(float), vol.Range(min=0))
ENERGY = vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False))


def service_error(key: str, **placeholders: str) -> ServiceValidationError:
    """A refusal the user can fix, translated."""
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def call_hub(hass: HomeAssistant, call: ServiceCall) -> MarketHub:
    """The running node the call names."""
    entry_id: str = call.data[ATTR_CONFIG_ENTRY_ID]
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise service_error("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise service_error("entry_not_loaded", title=entry.title)
    return cast(P2PEnergyConfigEntry, entry).runtime_data.market


def local_time(slot: int) -> str:
    """A slot start as the user reads it."""
    return dt_util.as_local(slot_datetime(slot)).strftime("%Y-%m-%d %H:%M")


def call_seconds(value: datetime) -> float:
    """A service datetime (local when naive) as Unix seconds."""
    return dt_util.as_utc(value).timestamp()
