"""The market's services: orders, invites, EV charging sessions, the agents' limits and
statements, on a chosen node.

Each service names its node with `config_entry_id`. Values are converted at this
boundary: kWh to Wh, currency/kWh to ticks, datetimes (local when naive) to Unix
seconds; refusals become translated errors.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Final, cast

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType

from market.agents import EvSession, InvalidAgentInputError
from market.model import Side
from market.node.errors import OrderRejectedError
from market.settlement.store import SettlementStoreError
from market.terms import MAX_ORDER_WH
from market.units import WH_PER_KWH, to_price, to_ticks, to_wh

from .const import (
    CONF_MAX_BUY_PRICE,
    CONF_MIN_SELL_PRICE,
    CONF_QUIET_END,
    CONF_QUIET_START,
    DOMAIN,
    SOURCE_ACTION,
    SOURCE_AUTOMATION,
)
from .ev_charger import EvCharger, EvRequest, EvRequestError, session_energy
from .market_hub import MarketHub
from .runtime import P2PEnergyConfigEntry
from .trades import slot_datetime

SERVICE_PLACE_ORDER: Final = "place_order"
SERVICE_CANCEL_ORDER: Final = "cancel_order"
SERVICE_CREATE_INVITE: Final = "create_invite"
SERVICE_START_EV_SESSION: Final = "start_ev_session"
SERVICE_STOP_EV_SESSION: Final = "stop_ev_session"
SERVICE_SET_LIMITS: Final = "set_limits"
SERVICE_LEAVE_COMMUNITY: Final = "leave_community"
SERVICE_ROTATE_KEY: Final = "rotate_key"
SERVICE_VOTE_TO_REMOVE: Final = "vote_to_remove"
SERVICE_GET_STATEMENT: Final = "get_statement"
ATTR_MEMBER: Final = "member"
ATTR_REPLACED_BY: Final = "replaced_by"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_SIDE: Final = "side"
ATTR_ENERGY_KWH: Final = "energy_kwh"
ATTR_PRICE: Final = "price"
ATTR_SLOT: Final = "slot"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_ORDER_ID: Final = "order_id"
ATTR_TTL_HOURS: Final = "ttl_hours"
ATTR_DEPARTURE: Final = "departure"
ATTR_MAX_PRICE: Final = "max_price"
ATTR_MIN_POWER_W: Final = "min_power_w"
ATTR_MAX_POWER_W: Final = "max_power_w"
ATTR_MIN_ENERGY_KWH: Final = "min_energy_kwh"
ATTR_PHASES: Final = "phases"
ATTR_CHARGER_ENERGY: Final = "charger_energy"
ATTR_CAR_SOC: Final = "car_soc"
ATTR_BATTERY_KWH: Final = "battery_kwh"
ATTR_TARGET_SOC: Final = "target_soc"
ATTR_MIN_SOC: Final = "min_soc"
ATTR_PLUGGED_IN: Final = "plugged_in"
ATTR_PERIOD: Final = "period"
ATTR_DATE: Final = "date"
ATTR_SCOPE: Final = "scope"
ATTR_MAX_BUY_PRICE: Final = "max_buy_price"
ATTR_MIN_SELL_PRICE: Final = "min_sell_price"
ATTR_QUIET_START: Final = "quiet_start"
ATTR_QUIET_END: Final = "quiet_end"
ATTR_CLEAR_QUIET: Final = "clear_quiet"

# One order per slot: a day of quarter-hours at most in one call.
MAX_WINDOW_SLOTS: Final = 96
MAX_TTL_HOURS: Final = 24 * 30

# Order refusals the user can fix, by the node's reason; others are errors of the node.
_USER_REASONS: Final = frozenset(
    {
        "invalid_energy",
        "invalid_price",
        "unaligned_slot",
        "gate_closed",
        "too_far",
        "not_member",
        "catching_up",
        "chain_forked",
        "not_admitted",
        "revoked",
        "unknown_order",
        "not_own_order",
        "invalid_member",
    }
)

_ENTRY: dict[vol.Marker, Any] = {vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string}
_PRICE = vol.All(vol.Coerce(float), vol.Range(min=0))
_ENERGY = vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False))

PLACE_ORDER_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_SIDE): vol.In([str(side) for side in Side]),
        vol.Required(ATTR_ENERGY_KWH): _ENERGY,
        vol.Required(ATTR_PRICE): _PRICE,
        vol.Optional(ATTR_SLOT): cv.datetime,
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
CANCEL_ORDER_SCHEMA: Final = vol.Schema({**_ENTRY, vol.Required(ATTR_ORDER_ID): cv.string})
ENTRY_SCHEMA: Final = vol.Schema(_ENTRY)
_KEY = vol.All(cv.string, vol.Lower, vol.Match(r"^[0-9a-f]{64}$"))
VOTE_TO_REMOVE_SCHEMA: Final = vol.Schema(
    {**_ENTRY, vol.Required(ATTR_MEMBER): _KEY, vol.Optional(ATTR_REPLACED_BY): _KEY}
)
CREATE_INVITE_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_TTL_HOURS, default=24): vol.All(
            vol.Coerce(float), vol.Range(min=0, min_included=False, max=MAX_TTL_HOURS)
        ),
    }
)
_SOC = vol.All(vol.Coerce(int), vol.Range(min=0, max=100))
START_EV_SESSION_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_ENERGY_KWH): _ENERGY,
        vol.Required(ATTR_DEPARTURE): cv.datetime,
        vol.Required(ATTR_MAX_PRICE): _PRICE,
        vol.Optional(ATTR_MIN_POWER_W, default=1400): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(ATTR_MAX_POWER_W, default=7400): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(ATTR_MIN_ENERGY_KWH, default=0): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional(ATTR_PHASES, default=1): vol.All(vol.Coerce(int), vol.In([1, 3])),
        vol.Optional(ATTR_CHARGER_ENERGY): cv.entity_id,
        vol.Optional(ATTR_CAR_SOC): cv.entity_id,
        vol.Optional(ATTR_BATTERY_KWH): _ENERGY,
        vol.Optional(ATTR_TARGET_SOC): _SOC,
        vol.Optional(ATTR_MIN_SOC): _SOC,
        vol.Optional(ATTR_PLUGGED_IN): cv.entity_id,
    }
)
STOP_EV_SESSION_SCHEMA: Final = vol.Schema(_ENTRY)
SET_LIMITS_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_MAX_BUY_PRICE): _PRICE,
        vol.Optional(ATTR_MIN_SELL_PRICE): _PRICE,
        vol.Optional(ATTR_QUIET_START): cv.time,
        vol.Optional(ATTR_QUIET_END): cv.time,
        vol.Optional(ATTR_CLEAR_QUIET, default=False): cv.boolean,
    }
)
GET_STATEMENT_SCHEMA: Final = vol.Schema(
    {
        **_ENTRY,
        vol.Optional(ATTR_PERIOD, default="day"): vol.In(["day", "month"]),
        vol.Optional(ATTR_DATE): cv.date,
        vol.Optional(ATTR_SCOPE, default="household"): vol.In(["household", "community"]),
    }
)


def _error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _hub(hass: HomeAssistant, call: ServiceCall) -> MarketHub:
    entry_id: str = call.data[ATTR_CONFIG_ENTRY_ID]
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _error("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _error("entry_not_loaded", title=entry.title)
    return cast(P2PEnergyConfigEntry, entry).runtime_data.market


def _local(slot: int) -> str:
    return dt_util.as_local(slot_datetime(slot)).strftime("%Y-%m-%d %H:%M")


def _rejected(
    err: OrderRejectedError, hub: MarketHub, key: str | None = None, **placeholders: str
) -> HomeAssistantError:
    """The translated error of a refused order or cancel."""
    placeholders = {
        "minutes": str(hub.terms.slot_s // 60),
        "max_kwh": str(MAX_ORDER_WH // WH_PER_KWH),
        "ceiling": str(to_price(hub.terms.ceiling)),
        "currency": hub.currency,
        "detail": err.detail,
        "reason": err.reason,
        **placeholders,
    }
    if err.reason in _USER_REASONS:
        return _error(key or err.reason, **placeholders)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="order_failed",
        translation_placeholders=placeholders,
    )


def _seconds(value: datetime) -> float:
    """A service datetime (local when naive) as Unix seconds."""
    return dt_util.as_utc(value).timestamp()


def _slots(hub: MarketHub, data: dict[str, Any]) -> list[int]:
    """The slots an order call names: one `slot`, or every slot within [start, end)."""
    slot_s = hub.terms.slot_s
    slot, start, end = data.get(ATTR_SLOT), data.get(ATTR_START), data.get(ATTR_END)
    if slot is not None and start is None and end is None:
        t = _seconds(slot)
        if t != int(t) or int(t) % slot_s:
            raise _error("unaligned_slot", minutes=str(slot_s // 60))
        return [int(t)]
    if slot is not None or start is None or end is None:
        raise _error("slot_or_window")
    first_s, end_s = _seconds(start), _seconds(end)
    first = -(-int(first_s) // slot_s) * slot_s
    slots = range(first, int(end_s) - slot_s + 1, slot_s)  # sized before it is listed
    if not slots:
        raise _error("invalid_window", minutes=str(slot_s // 60))
    if len(slots) > MAX_WINDOW_SLOTS:
        raise _error("window_too_long", max_slots=str(MAX_WINDOW_SLOTS))
    # Slots whose gate has closed are skipped: "from now until 18:00" is a fair ask.
    gate = hub.terms.gate_closure
    now_s = hub.now_s
    open_slots = [s for s in slots if now_s < gate(s)]
    if not open_slots:
        raise _error("gate_closed", slot=_local(slots[-1]))
    return open_slots


def _source(call: ServiceCall) -> str:
    """Who placed or cancelled an order: a person ("action": the UI, a dashboard, the REST
    API, all with a user) or an automation or script ("automation": no user)."""
    return SOURCE_ACTION if call.context.user_id else SOURCE_AUTOMATION


async def _place_order(call: ServiceCall) -> ServiceResponse:
    hub = _hub(call.hass, call)
    side = Side(call.data[ATTR_SIDE])
    energy_wh = to_wh(call.data[ATTR_ENERGY_KWH])
    price = to_ticks(call.data[ATTR_PRICE])
    if side is Side.BUY:
        # "Up to any price" means up to the retail price: nobody pays more than the grid.
        price = min(price, hub.terms.ceiling)
    order_ids: list[JsonValueType] = []
    for slot in _slots(hub, call.data):
        try:
            order_id = await hub.node.place_order(
                side, energy_wh, price, slot, source=_source(call)
            )
        except OrderRejectedError as err:
            raise _rejected(err, hub, slot=_local(slot)) from err
        order_ids.append(order_id)
    if not call.return_response:
        return None
    return {"order_ids": order_ids}


async def _cancel_order(call: ServiceCall) -> None:
    hub = _hub(call.hass, call)
    order_id: str = call.data[ATTR_ORDER_ID]
    try:
        await hub.node.cancel_order(order_id, source=_source(call))
    except OrderRejectedError as err:
        key = "cancel_gate_closed" if err.reason == "gate_closed" else None
        raise _rejected(err, hub, key, order_id=order_id) from err


@callback
def _create_invite(call: ServiceCall) -> ServiceResponse:
    hub = _hub(call.hass, call)
    ttl = timedelta(hours=call.data[ATTR_TTL_HOURS])
    code = hub.node.create_invite(ttl_s=int(ttl.total_seconds()))
    # Invites follow the wall clock, even on a demo's accelerated market clock.
    return {"invite": code, "expires": (dt_util.utcnow() + ttl).isoformat()}


async def _leave_community(call: ServiceCall) -> None:
    hub = _hub(call.hass, call)
    try:
        await hub.node.leave()
    except OrderRejectedError as err:
        raise _rejected(err, hub) from err


async def _rotate_key(call: ServiceCall) -> ServiceResponse:
    hub = _hub(call.hass, call)
    try:
        new_key = await hub.node.rotate_key()
    except OrderRejectedError as err:
        raise _rejected(err, hub) from err
    # The running node signs nothing more with the old key: reopened, it signs with the
    # new one (the data dir's node_key now).
    call.hass.config_entries.async_schedule_reload(call.data[ATTR_CONFIG_ENTRY_ID])
    return {"node_id": new_key} if call.return_response else None


async def _vote_to_remove(call: ServiceCall) -> None:
    hub = _hub(call.hass, call)
    member = bytes.fromhex(call.data[ATTR_MEMBER])
    successor = call.data.get(ATTR_REPLACED_BY)
    try:
        if successor is None:
            await hub.node.vote_to_remove(member)
        else:
            await hub.node.vote_to_replace(member, bytes.fromhex(successor))
    except OrderRejectedError as err:
        raise _rejected(err, hub) from err


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
    hub = _hub(call.hass, call)
    departure = int(_seconds(call.data[ATTR_DEPARTURE]))
    if departure <= hub.now_s:
        raise _error("departure_passed", departure=_local(departure))
    min_power_w: int = call.data[ATTR_MIN_POWER_W]
    max_power_w: int = call.data[ATTR_MAX_POWER_W]
    request = _ev_request(call.data)
    try:
        energy_wh, min_energy_wh = session_energy(call.hass, request)
    except EvRequestError as err:
        raise _error(err.key, **err.placeholders) from err
    try:
        session = EvSession(
            energy_wh=energy_wh,
            departure=departure,
            max_price=to_ticks(call.data[ATTR_MAX_PRICE]),
            min_power_w=min_power_w,
            max_power_w=max_power_w,
            min_energy_wh=min_energy_wh,
        )
        await hub.ev.async_start(session, request.charger)
    except InvalidAgentInputError as err:
        raise _error(
            "invalid_ev_power",
            min_power_w=str(min_power_w),
            max_power_w=str(max_power_w),
            max_import_w=str(hub.agents.limits.max_import_w),
        ) from err


async def _stop_ev_session(call: ServiceCall) -> None:
    await _hub(call.hass, call).ev.async_stop()


_LIMIT_FIELDS: Final = (ATTR_MAX_BUY_PRICE, ATTR_MIN_SELL_PRICE, ATTR_QUIET_START, ATTR_QUIET_END)


def _limit_options(data: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The entry's options with the limits a set_limits call gives (the others kept).

    The quiet hours are set whole (a start and an end, a minute apart at least) or
    cleared; a price is a limit of its own (a low maximum purchase price beside a high
    minimum sale price is a household that trades only when it pays).
    """
    if not data[ATTR_CLEAR_QUIET] and not any(key in data for key in _LIMIT_FIELDS):
        raise _error("limits_missing")
    changed = dict(options)
    if ATTR_MAX_BUY_PRICE in data:
        changed[CONF_MAX_BUY_PRICE] = to_ticks(data[ATTR_MAX_BUY_PRICE])
    if ATTR_MIN_SELL_PRICE in data:
        changed[CONF_MIN_SELL_PRICE] = to_ticks(data[ATTR_MIN_SELL_PRICE])
    start: time | None = data.get(ATTR_QUIET_START)
    end: time | None = data.get(ATTR_QUIET_END)
    if data[ATTR_CLEAR_QUIET]:
        if start is not None or end is not None:
            raise _error("quiet_clear_and_set")
        changed.pop(CONF_QUIET_START, None)
        changed.pop(CONF_QUIET_END, None)
    elif start is not None and end is not None:
        if (start.hour, start.minute) == (end.hour, end.minute):
            raise _error("quiet_empty", time=start.strftime("%H:%M"))
        # stored as the options flow's time selector stores them
        changed[CONF_QUIET_START] = start.strftime("%H:%M:00")
        changed[CONF_QUIET_END] = end.strftime("%H:%M:00")
    elif start is not None or end is not None:
        raise _error("quiet_incomplete")
    return changed


async def _set_limits(call: ServiceCall) -> None:
    """Change the agents' prices and quiet hours now, and keep them in the entry's
    options so that a restart starts with them."""
    hub = _hub(call.hass, call)
    entry = hub.config_entry
    options = _limit_options(call.data, dict(entry.options))
    try:
        await hub.agents.async_set_limits(options)
    except InvalidAgentInputError as err:  # refused above; kept for the agents' own rules
        raise _error("invalid_limits", error=str(err)) from err
    if options != entry.options:
        # the update listener sees only live options changed: no reload
        call.hass.config_entries.async_update_entry(entry, options=options)


async def _get_statement(call: ServiceCall) -> ServiceResponse:
    hub = _hub(call.hass, call)
    reader = hub.settlements.reader
    today = reader.today(hub.now_s)
    day: date = call.data.get(ATTR_DATE) or date.fromisoformat(today.label)
    period = reader.period(call.data[ATTR_PERIOD], day)
    if period.start > today.start:
        raise _error("statement_future", date=day.isoformat())
    try:
        if call.data[ATTR_SCOPE] == "community":
            statement = (await reader.community_statement(period)).to_json_obj()
        else:
            statement = (await reader.household_statement(period)).to_json_obj()
    except SettlementStoreError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="statement_unavailable",
            translation_placeholders={"error": str(err)},
        ) from err
    # the shape of `python -m market statement --format json`: integers, Wh and Wh x ticks
    return {"currency": hub.currency, "statement": cast(dict[str, JsonValueType], statement)}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the market's services."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_PLACE_ORDER,
        _place_order,
        schema=PLACE_ORDER_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_CANCEL_ORDER, _cancel_order, schema=CANCEL_ORDER_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CREATE_INVITE,
        _create_invite,
        schema=CREATE_INVITE_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_START_EV_SESSION, _start_ev_session, schema=START_EV_SESSION_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_STOP_EV_SESSION, _stop_ev_session, schema=STOP_EV_SESSION_SCHEMA
    )
    hass.services.async_register(DOMAIN, SERVICE_SET_LIMITS, _set_limits, schema=SET_LIMITS_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_LEAVE_COMMUNITY, _leave_community, schema=ENTRY_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_VOTE_TO_REMOVE, _vote_to_remove, schema=VOTE_TO_REMOVE_SCHEMA
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_GET_STATEMENT,
        _get_statement,
        schema=GET_STATEMENT_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ROTATE_KEY,
        _rotate_key,
        schema=ENTRY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
