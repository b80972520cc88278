"""The household's own rules as actions: EV charging sessions (with the charger and the
car, ev_charger.py) and the agents' limits (prices and hours without trading)."""

from __future__ import annotations

from datetime import time
from typing import Any, Final

import voluptuous as vol
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv

from market.agents import EvSession, InvalidAgentInputError
from market.units import to_ticks, to_wh

from .const import CONF_MAX_BUY_PRICE, CONF_MIN_SELL_PRICE, CONF_QUIET_END, CONF_QUIET_START, DOMAIN
from .ev_charger import EvCharger, EvRequest, EvRequestError, session_energy
from .service_helpers import (
    ATTR_ENERGY_KWH,
    ENERGY,
    ENTRY_FIELDS,
    PRICE,
    call_hub,
    call_seconds,
    local_time,
    service_error,
)

SERVICE_START_EV_SESSION: Final = "start_ev_session"
SERVICE_STOP_EV_SESSION: Final = "stop_ev_session"
SERVICE_SET_LIMITS: Final = "set_limits"
ATTR_DEPARTURE: Final = "departure"
ATTR_MAX_PRICE: Final = "max_price"
ATTR_MIN_POWER_W: Final = "min_power_w"
ATTR_MAX_POWER_W: Final = "max_power_w"
ATTR_MIN_ENERGY_KWH: Final = "min_energy_kwh"
ATTR_SURPLUS_ONLY_KWH: Final = "surplus_only_kwh"
ATTR_PHASES: Final = "phases"
ATTR_CHARGER_ENERGY: Final = "charger_energy"
ATTR_CAR_SOC: Final = "car_soc"
ATTR_BATTERY_KWH: Final = "battery_kwh"
ATTR_TARGET_SOC: Final = "target_soc"
ATTR_MIN_SOC: Final = "min_soc"
ATTR_PLUGGED_IN: Final = "plugged_in"
ATTR_MAX_BUY_PRICE: Final = "max_buy_price"
ATTR_MIN_SELL_PRICE: Final = "min_sell_price"
ATTR_QUIET_START: Final = "quiet_start"
ATTR_QUIET_END: Final = "quiet_end"
ATTR_CLEAR_QUIET: Final = "clear_quiet"

_SOC = vol.All(vol.Coerce(int), vol.Range(min=0, max=100))
START_EV_SESSION_SCHEMA: Final = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Optional(ATTR_ENERGY_KWH): ENERGY,
        vol.Required(ATTR_DEPARTURE): cv.datetime,
        vol.Required(ATTR_MAX_PRICE): PRICE,
        vol.Optional(ATTR_MIN_POWER_W, default=1400): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(ATTR_MAX_POWER_W, default=7400): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(ATTR_MIN_ENERGY_KWH, default=0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional(ATTR_SURPLUS_ONLY_KWH, default=0): vol.All(
            vol.Coerce(float), vol.Range(min=0)
        ),
        vol.Optional(ATTR_PHASES, default=1): vol.All(vol.Coerce(int), vol.In([1, 3])),
        vol.Optional(ATTR_CHARGER_ENERGY): cv.entity_id,
        vol.Optional(ATTR_CAR_SOC): cv.entity_id,
        vol.Optional(ATTR_BATTERY_KWH): ENERGY,
        vol.Optional(ATTR_TARGET_SOC): _SOC,
        vol.Optional(ATTR_MIN_SOC): _SOC,
        vol.Optional(ATTR_PLUGGED_IN): cv.entity_id,
    }
)
STOP_EV_SESSION_SCHEMA: Final = vol.Schema(ENTRY_FIELDS)
SET_LIMITS_SCHEMA: Final = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Optional(ATTR_MAX_BUY_PRICE): PRICE,
        vol.Optional(ATTR_MIN_SELL_PRICE): PRICE,
        vol.Optional(ATTR_QUIET_START): cv.time,
        vol.Optional(ATTR_QUIET_END): cv.time,
        vol.Optional(ATTR_CLEAR_QUIET, default=False): cv.boolean,
    }
)


def _ev_request(data: dict[str, Any]) -> EvRequest:
    battery = data.get(ATTR_BATTERY_KWH)
    energy = data.get(ATTR_ENERGY_KWH)
    return EvRequest(
        energy_wh=None if energy is None else to_wh(energy),
        min_energy_wh=to_wh(data[ATTR_MIN_ENERGY_KWH]),
        target_soc=data.get(ATTR_TARGET_SOC),
        min_soc=data.get(ATTR_MIN_SOC),
        charger=EvCharger(
            phases=data[ATTR_PHASES],
            energy_entity=data.get(ATTR_CHARGER_ENERGY),
            soc_entity=data.get(ATTR_CAR_SOC),
            battery_wh=None if battery is None else to_wh(battery),
            plugged_entity=data.get(ATTR_PLUGGED_IN),
        ),
    )


async def _start_ev_session(call: ServiceCall) -> None:
    hub = call_hub(call.hass, call)
    departure = int(call_seconds(call.data[ATTR_DEPARTURE]))
    if departure <= hub.now_s:
        raise service_error("departure_passed", departure=local_time(departure))
    min_power_w: int = call.data[ATTR_MIN_POWER_W]
    max_power_w: int = call.data[ATTR_MAX_POWER_W]
    request = _ev_request(call.data)
    surplus_only_wh = to_wh(call.data[ATTR_SURPLUS_ONLY_KWH])
    try:
        energy_wh, min_energy_wh = session_energy(call.hass, request)
    except EvRequestError as err:
        raise service_error(err.key, **err.placeholders) from err
    try:
        session = EvSession(
            energy_wh=energy_wh + surplus_only_wh,
            departure=departure,
            max_price=to_ticks(call.data[ATTR_MAX_PRICE]),
            min_power_w=min_power_w,
            max_power_w=max_power_w,
            min_energy_wh=min_energy_wh,
            surplus_only_wh=surplus_only_wh,
        )
        await hub.ev.async_start(session, request.charger)
    except InvalidAgentInputError as err:
        raise service_error(
            "invalid_ev_power",
            min_power_w=str(min_power_w),
            max_power_w=str(max_power_w),
            max_import_w=str(hub.agents.limits.max_import_w),
        ) from err


async def _stop_ev_session(call: ServiceCall) -> None:
    await call_hub(call.hass, call).ev.async_stop()


_LIMIT_FIELDS: Final = (ATTR_MAX_BUY_PRICE, ATTR_MIN_SELL_PRICE, ATTR_QUIET_START, ATTR_QUIET_END)


def _limit_options(data: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The entry's options with the limits a set_limits call gives (the others kept).

    The quiet hours are set whole (a start and an end, a minute apart at least) or
    cleared; a price is a limit of its own (a low maximum purchase price beside a high
    minimum sale price is a household that trades only when it pays).
    """
    if not data[ATTR_CLEAR_QUIET] and not any(key in data for key in _LIMIT_FIELDS):
        raise service_error("limits_missing")
    changed = dict(options)
    if ATTR_MAX_BUY_PRICE in data:
        changed[CONF_MAX_BUY_PRICE] = to_ticks(data[ATTR_MAX_BUY_PRICE])
    if ATTR_MIN_SELL_PRICE in data:
        changed[CONF_MIN_SELL_PRICE] = to_ticks(data[ATTR_MIN_SELL_PRICE])
    start: time | None = data.get(ATTR_QUIET_START)
    end: time | None = data.get(ATTR_QUIET_END)
    if data[ATTR_CLEAR_QUIET]:
        if start is not None or end is not None:
            raise service_error("quiet_clear_and_set")
        changed.pop(CONF_QUIET_START, None)
        changed.pop(CONF_QUIET_END, None)
    elif start is not None and end is not None:
        if (start.hour, start.minute) == (end.hour, end.minute):
            raise service_error("quiet_empty", time=start.strftime("%H:%M"))
        # stored as the options flow's time selector stores them
        changed[CONF_QUIET_START] = start.strftime("%H:%M:00")
        changed[CONF_QUIET_END] = end.strftime("%H:%M:00")
    elif start is not None or end is not None:
        raise service_error("quiet_incomplete")
    return changed


async def _set_limits(call: ServiceCall) -> None:
    """Change the agents' prices and quiet hours now, and keep them in the entry's
    options so that a restart starts with them."""
    hub = call_hub(call.hass, call)
    entry = hub.config_entry
    options = _limit_options(call.data, dict(entry.options))
    try:
        await hub.agents.async_set_limits(options)
    except InvalidAgentInputError as err:  # refused above; kept for the agents' own rules
        raise service_error("invalid_limits", error=str(err)) from err
    if options != entry.options:
        # the update listener sees only live options changed: no reload
        call.hass.config_entries.async_update_entry(entry, options=options)


@callback
def async_setup_household_services(hass: HomeAssistant) -> None:
    """Register the EV session and limits actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_START_EV_SESSION, _start_ev_session, schema=START_EV_SESSION_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_STOP_EV_SESSION, _stop_ev_session, schema=STOP_EV_SESSION_SCHEMA
    )
    hass.services.async_register(DOMAIN, SERVICE_SET_LIMITS, _set_limits, schema=SET_LIMITS_SCHEMA)
