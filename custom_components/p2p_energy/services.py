"""The market's services: orders, invites, membership and statements, on a chosen node
(the EV sessions and the agents' limits: household_services.py).

Each service names its node with `config_entry_id`. Values are converted at this
boundary: kWh to Wh, currency/kWh to ticks, datetimes (local when naive) to Unix
seconds; refusals become translated errors.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final, cast

import voluptuous as vol
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType

from market.model import Side
from market.node.errors import OrderRejectedError
from market.settlement.store import SettlementStoreError
from market.terms import MAX_ORDER_WH
from market.units import WH_PER_KWH, to_price, to_ticks, to_wh

from .const import DOMAIN, SOURCE_ACTION, SOURCE_AUTOMATION
from .household_services import async_setup_household_services
from .market_hub import MarketHub
from .service_helpers import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_ENERGY_KWH,
    ENERGY,
    ENTRY_FIELDS,
    PRICE,
    call_hub,
    call_seconds,
    local_time,
    service_error,
)

SERVICE_PLACE_ORDER: Final = "place_order"
SERVICE_CANCEL_ORDER: Final = "cancel_order"
SERVICE_CREATE_INVITE: Final = "create_invite"
SERVICE_LEAVE_COMMUNITY: Final = "leave_community"
SERVICE_ROTATE_KEY: Final = "rotate_key"
SERVICE_VOTE_TO_REMOVE: Final = "vote_to_remove"
SERVICE_GET_STATEMENT: Final = "get_statement"
ATTR_MEMBER: Final = "member"
ATTR_REPLACED_BY: Final = "replaced_by"

ATTR_SIDE: Final = "side"
ATTR_PRICE: Final = "price"
ATTR_SLOT: Final = "slot"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_ORDER_ID: Final = "order_id"
ATTR_TTL_HOURS: Final = "ttl_hours"
ATTR_PERIOD: Final = "period"
ATTR_DATE: Final = "date"
ATTR_SCOPE: Final = "scope"

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

PLACE_ORDER_SCHEMA: Final = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Required(ATTR_SIDE): vol.In([str(side) for side in Side]),
        vol.Required(ATTR_ENERGY_KWH): ENERGY,
        vol.Required(ATTR_PRICE): PRICE,
        vol.Optional(ATTR_SLOT): cv.datetime,
        vol.Optional(ATTR_START): cv.datetime,
        vol.Optional(ATTR_END): cv.datetime,
    }
)
CANCEL_ORDER_SCHEMA: Final = vol.Schema({**ENTRY_FIELDS, vol.Required(ATTR_ORDER_ID): cv.string})
ENTRY_SCHEMA: Final = vol.Schema(ENTRY_FIELDS)
_KEY = vol.All(cv.string, vol.Lower, vol.Match(r"^[0-9a-f]{64}$"))
VOTE_TO_REMOVE_SCHEMA: Final = vol.Schema(
    {**ENTRY_FIELDS, vol.Required(ATTR_MEMBER): _KEY, vol.Optional(ATTR_REPLACED_BY): _KEY}
)
CREATE_INVITE_SCHEMA: Final = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Optional(ATTR_TTL_HOURS, default=24): vol.All(
            vol.Coerce(float), vol.Range(min=0, min_included=False, max=MAX_TTL_HOURS)
        ),
    }
)
GET_STATEMENT_SCHEMA: Final = vol.Schema(
    {
        **ENTRY_FIELDS,
        vol.Optional(ATTR_PERIOD, default="day"): vol.In(["day", "month"]),
        vol.Optional(ATTR_DATE): cv.date,
        vol.Optional(ATTR_SCOPE, default="household"): vol.In(["household", "community"]),
    }
)


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
        return service_error(key or err.reason, **placeholders)
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="order_failed",
        translation_placeholders=placeholders,
    )


def _slots(hub: MarketHub, data: dict[str, Any]) -> list[int]:
    """The slots an order call names: one `slot`, or every slot within [start, end)."""
    slot_s = hub.terms.slot_s
    slot, start, end = data.get(ATTR_SLOT), data.get(ATTR_START), data.get(ATTR_END)
    if slot is not None and start is None and end is None:
        t = call_seconds(slot)
        if t != int(t) or int(t) % slot_s:
            raise service_error("unaligned_slot", minutes=str(slot_s // 60))
        return [int(t)]
    if slot is not None or start is None or end is None:
        raise service_error("slot_or_window")
    first_s, end_s = call_seconds(start), call_seconds(end)
    first = -(-int(first_s) // slot_s) * slot_s
    slots = range(first, int(end_s) - slot_s + 1, slot_s)  # sized before it is listed
    if not slots:
        raise service_error("invalid_window", minutes=str(slot_s // 60))
    if len(slots) > MAX_WINDOW_SLOTS:
        raise service_error("window_too_long", max_slots=str(MAX_WINDOW_SLOTS))
    # Slots whose gate has closed are skipped: "from now until 18:00" is a fair ask.
    gate = hub.terms.gate_closure
    now_s = hub.now_s
    open_slots = [s for s in slots if now_s < gate(s)]
    if not open_slots:
        raise service_error("gate_closed", slot=local_time(slots[-1]))
    return open_slots


def _source(call: ServiceCall) -> str:
    """Who placed or cancelled an order: a person ("action": the UI, a dashboard, the REST
    API, all with a user) or an automation or script ("automation": no user)."""
    return SOURCE_ACTION if call.context.user_id else SOURCE_AUTOMATION


async def _place_order(call: ServiceCall) -> ServiceResponse:
    hub = call_hub(call.hass, call)
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
            raise _rejected(err, hub, slot=local_time(slot)) from err
        order_ids.append(order_id)
    if not call.return_response:
        return None
    return {"order_ids": order_ids}


async def _cancel_order(call: ServiceCall) -> None:
    hub = call_hub(call.hass, call)
    order_id: str = call.data[ATTR_ORDER_ID]
    try:
        await hub.node.cancel_order(order_id, source=_source(call))
    except OrderRejectedError as err:
        key = "cancel_gate_closed" if err.reason == "gate_closed" else None
        raise _rejected(err, hub, key, order_id=order_id) from err


@callback
def _create_invite(call: ServiceCall) -> ServiceResponse:
    hub = call_hub(call.hass, call)
    ttl = timedelta(hours=call.data[ATTR_TTL_HOURS])
    code = hub.node.create_invite(ttl_s=int(ttl.total_seconds()))
    # Invites follow the wall clock, even on a demo's accelerated market clock.
    return {"invite": code, "expires": (dt_util.utcnow() + ttl).isoformat()}


async def _leave_community(call: ServiceCall) -> None:
    hub = call_hub(call.hass, call)
    try:
        await hub.node.leave()
    except OrderRejectedError as err:
        raise _rejected(err, hub) from err


async def _rotate_key(call: ServiceCall) -> ServiceResponse:
    hub = call_hub(call.hass, call)
    try:
        new_key = await hub.node.rotate_key()
    except OrderRejectedError as err:
        raise _rejected(err, hub) from err
    # The running node signs nothing more with the old key: reopened, it signs with the
    # new one (the data dir's node_key now).
    call.hass.config_entries.async_schedule_reload(call.data[ATTR_CONFIG_ENTRY_ID])
    return {"node_id": new_key} if call.return_response else None


async def _vote_to_remove(call: ServiceCall) -> None:
    hub = call_hub(call.hass, call)
    member = bytes.fromhex(call.data[ATTR_MEMBER])
    successor = call.data.get(ATTR_REPLACED_BY)
    try:
        if successor is None:
            await hub.node.vote_to_remove(member)
        else:
            await hub.node.vote_to_replace(member, bytes.fromhex(successor))
    except OrderRejectedError as err:
        raise _rejected(err, hub) from err


async def _get_statement(call: ServiceCall) -> ServiceResponse:
    hub = call_hub(call.hass, call)
    reader = hub.settlements.reader
    today = reader.today(hub.now_s)
    day: date = call.data.get(ATTR_DATE) or date.fromisoformat(today.label)
    period = reader.period(call.data[ATTR_PERIOD], day)
    if period.start > today.start:
        raise service_error("statement_future", date=day.isoformat())
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
    async_setup_household_services(hass)
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
