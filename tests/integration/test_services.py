"""The market's services: orders, invites and EV sessions, and how they refuse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import T0, NodeDirs, advance_to
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_MAX_IMPORT_W,
    CONF_NODE_DIR,
    CONF_SELL_SURPLUS,
    DOMAIN,
)
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.kinds import Kind
from market.ledger.store import DB_FILE_NAME, LedgerStore
from market.model import Side
from market.node.clock import ManualClock
from market.node.datadir import DataDir
from market.node.index import OrderStatus
from market.node.invite import Invite
from tests.market.ledger_helpers import admit

SLOT = T0 + 3600
OTHER_KEY = Identity(b"\x07" * 32).public_key
OPEN_ORDERS = "sensor.maison_open_orders"
EV = "sensor.maison_next_ev_charging_slot"


def _at(t_s: int) -> str:
    """A time as the UI's datetime selector sends it: local and naive."""
    local = dt_util.as_local(datetime.fromtimestamp(t_s, UTC))
    return local.replace(tzinfo=None).isoformat()


@pytest.fixture
async def entry(hass: HomeAssistant, node_dirs: NodeDirs) -> MockConfigEntry:
    """A running node that trades only through the services."""
    entry = node_dirs.entry(options={CONF_SELL_SURPLUS: False, CONF_MAX_IMPORT_W: 9000})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _call(
    hass: HomeAssistant, service: str, entry: MockConfigEntry, response: bool = False, **data: Any
) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        service,
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=response,
    )


async def test_place_an_order_in_one_slot(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await _call(
        hass, "place_order", entry, True, side="buy", energy_kwh=1.5, price=0.18, slot=_at(SLOT)
    )
    [order_id] = result["order_ids"]
    [order] = entry.runtime_data.market.node.order_book(SLOT)
    assert order.order_id == order_id
    assert (order.side, order.energy_wh, order.price) == (Side.BUY, 1500, 1800)
    assert order.status is OrderStatus.LIVE
    await hass.async_block_till_done()
    orders = hass.states.get(OPEN_ORDERS)
    assert orders is not None
    assert orders.state == "1"
    assert orders.attributes["orders"][0]["price"] == 0.18

    # A buy limit above the ceiling is lowered to it (the grid's price caps any purchase).
    await _call(hass, "place_order", entry, side="buy", energy_kwh=1, price=5, slot=_at(SLOT))
    assert sorted(o.price for o in entry.runtime_data.market.node.order_book(SLOT)) == [1800, 1952]

    # Without asking for a response, the order is placed all the same.
    assert (
        await _call(
            hass, "place_order", entry, side="sell", energy_kwh=2, price=0.1, slot=_at(SLOT)
        )
        is None
    )
    assert len(entry.runtime_data.market.node.order_book(SLOT)) == 3


async def test_place_orders_over_a_window(
    hass: HomeAssistant, entry: MockConfigEntry, market_clock: ManualClock
) -> None:
    await advance_to(hass, market_clock, T0 + 700)  # the gate of T0 + 900 has closed
    result = await _call(
        hass,
        "place_order",
        entry,
        True,
        side="sell",
        energy_kwh=0.4,
        price=0.08,
        start=_at(T0 + 600),  # the slots wholly inside, whose gate is still open
        end=_at(T0 + 3600),
    )
    assert len(result["order_ids"]) == 2
    node = entry.runtime_data.market.node
    assert [len(node.order_book(slot)) for slot in (T0 + 900, T0 + 1800, T0 + 2700)] == [0, 1, 1]
    assert {o.energy_wh for o in node.order_book(T0 + 1800)} == {400}


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        (
            {"slot": SLOT + 60},
            "unaligned_slot",
            "Slots start on 15-minute boundaries",
        ),
        ({}, "slot_or_window", "Give either a slot, or a window start and end"),
        (
            {"slot": SLOT, "start": SLOT},
            "slot_or_window",
            "Give either a slot, or a window start and end",
        ),
        (
            {"start": SLOT, "end": SLOT + 600},
            "invalid_window",
            "The window holds no whole 15-minute slot",
        ),
        (
            {"start": SLOT, "end": SLOT + 86_400 + 900},
            "window_too_long",
            "The window holds more than 96 slots: split it",
        ),
        (
            {"slot": T0},
            "gate_closed",
            "The order book of the 2027-01-15 00:00 slot has closed",
        ),
        (
            {"start": T0 - 1800, "end": T0 + 900},
            "gate_closed",
            "The order book of the 2027-01-15 00:00 slot has closed",
        ),
        (
            {"slot": T0 + 8 * 86_400},
            "too_far",
            "Orders are accepted at most 7 days ahead",
        ),
        (
            {"slot": SLOT, "energy_kwh": 0.0001},
            "invalid_energy",
            "The energy of an order must be between 0.001 and 1000 kWh",
        ),
        (
            {"slot": SLOT, "side": "sell", "price": 0.2},  # no buyer pays above the ceiling
            "invalid_price",
            "The price must be at most 0.1952 EUR/kWh, the community's ceiling",
        ),
    ],
)
async def test_orders_are_refused_with_a_reason(
    hass: HomeAssistant, entry: MockConfigEntry, data: dict[str, Any], key: str, message: str
) -> None:
    times = {k: _at(v) for k, v in data.items() if k in ("slot", "start", "end")}
    call = {"side": "buy", "energy_kwh": 1.0, "price": 0.15, **data, **times}
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "place_order", entry, True, **call)
    assert err.value.translation_key == key
    assert str(err.value) == message
    assert entry.runtime_data.market.node.order_book(SLOT) == []


async def test_cancel_an_order(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await _call(
        hass, "place_order", entry, True, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT)
    )
    [order_id] = result["order_ids"]
    await _call(hass, "cancel_order", entry, order_id=order_id)
    [order] = entry.runtime_data.market.node.order_book(SLOT)
    assert order.status is OrderStatus.CANCELLED
    await hass.async_block_till_done()
    assert hass.states.get(OPEN_ORDERS).state == "0"  # type: ignore[union-attr]


async def test_cancelling_refuses_unknown_and_closed_orders(
    hass: HomeAssistant, entry: MockConfigEntry, market_clock: ManualClock
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "cancel_order", entry, order_id="cafe")
    assert err.value.translation_key == "unknown_order"
    assert str(err.value) == "No order cafe is known to this node"

    result = await _call(
        hass, "place_order", entry, True, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT)
    )
    [order_id] = result["order_ids"]
    await advance_to(hass, market_clock, SLOT - 300)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "cancel_order", entry, order_id=order_id)
    assert err.value.translation_key == "cancel_gate_closed"


async def test_the_entry_must_exist_and_run(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    other = MockConfigEntry(domain="sun", title="Sun")
    other.add_to_hass(hass)
    for entry_id in ("nope", other.entry_id):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "cancel_order",
                {"config_entry_id": entry_id, "order_id": "cafe"},
                blocking=True,
            )
        assert err.value.translation_key == "entry_not_found"
        assert entry_id in str(err.value)

    await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "cancel_order", entry, order_id="cafe")
    assert err.value.translation_key == "entry_not_loaded"
    assert str(err.value) == "The node Maison is not running"


async def test_a_node_not_yet_admitted_cannot_trade(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry(member=False, neighbours=(node_dirs.headless(),))
    assert await hass.config_entries.async_setup(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "place_order", entry, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT)
        )
    assert err.value.translation_key == "not_member"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_node_whose_admission_lost_is_told_so(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    neighbour = node_dirs.headless()
    entry = node_dirs.entry(member=False, neighbours=(neighbour,))
    data = DataDir(Path(hass.config.path(".storage", DOMAIN, entry.data[CONF_NODE_DIR])))
    community, me = data.community(), data.identity()
    # one invite redeemed twice, for another key first: this node's admission is held
    # (the node may write) but does not count
    data.ledger_dir.mkdir(parents=True)
    store = LedgerStore(data.ledger_dir / DB_FILE_NAME, community, neighbour.identity())
    for at_ms, key in ((T0 * 1000 + 1000, OTHER_KEY), (T0 * 1000 + 2000, me.public_key)):
        body = admit(community, neighbour.identity(), key, expires_s=T0 + 86_400)
        store.append(Kind.ADMIT, body.encode(), at_ms)
    store.close()
    assert await hass.config_entries.async_setup(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "place_order", entry, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT)
        )
    assert err.value.translation_key == "not_admitted"
    assert "new invite" in str(err.value)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_create_an_invite(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    result = await _call(hass, "create_invite", entry, True, ttl_hours=2)
    invite = Invite.decode(result["invite"])
    node = entry.runtime_data.market.node
    assert invite.community.community_id == node.ledger.community_id
    assert invite.address == node.address
    expires = datetime.fromisoformat(result["expires"])
    assert abs(invite.expires_s - expires.timestamp()) < 5
    assert 7100 < (expires - dt_util.utcnow()).total_seconds() <= 7200


async def test_an_ev_session_plans_bids_and_stops(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    schedules: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_ev_schedule", schedules.append)
    departure = T0 + 4 * 3600
    await _call(
        hass,
        "start_ev_session",
        entry,
        energy_kwh=3,
        departure=_at(departure),
        max_price=0.19,
        min_power_w=1400,
        max_power_w=7400,
    )
    await hass.async_block_till_done()
    ev = hass.states.get(EV)
    assert ev is not None
    # Nothing known of prices: the earliest open slot first, 7.4 kW x 15 min = 1850 Wh.
    assert ev.state == "2027-01-15T08:15:00+00:00"
    assert ev.attributes["departure"] == "2027-01-15T12:00:00+00:00"
    assert ev.attributes["energy_wh"] == 3000
    assert [(s["start"], s["market_wh"]) for s in ev.attributes["slots"]][:2] == [
        ("2027-01-15T08:15:00+00:00", 1850),
        ("2027-01-15T08:30:00+00:00", 1150),
    ]
    orders = hass.states.get(OPEN_ORDERS)
    assert orders is not None
    assert {(o["source"], o["side"]) for o in orders.attributes["orders"]} == {("ev", "buy")}
    assert schedules[-1].data["config_entry_id"] == entry.entry_id
    assert schedules[-1].data["departure"] == "2027-01-15T12:00:00+00:00"

    # A new session replaces the running one (and its bids).
    await _call(
        hass, "start_ev_session", entry, energy_kwh=1.5, departure=_at(departure), max_price=0.19
    )
    await hass.async_block_till_done()
    orders = hass.states.get(OPEN_ORDERS)
    assert orders is not None
    assert [o["energy_kwh"] for o in orders.attributes["orders"]] == [1.5]

    await _call(hass, "stop_ev_session", entry)
    await hass.async_block_till_done()
    assert hass.states.get(EV).state == STATE_UNKNOWN  # type: ignore[union-attr]
    assert hass.states.get(OPEN_ORDERS).state == "0"  # type: ignore[union-attr]
    await _call(hass, "stop_ev_session", entry)  # nothing left to stop: not an error


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"departure": T0 - 60}, "departure_passed"),
        ({"min_power_w": 8000, "max_power_w": 7400}, "invalid_ev_power"),
        ({"min_power_w": 9500, "max_power_w": 11000}, "invalid_ev_power"),
    ],
)
async def test_ev_sessions_are_checked(
    hass: HomeAssistant, entry: MockConfigEntry, data: dict[str, Any], key: str
) -> None:
    call = {"energy_kwh": 10, "departure": T0 + 8 * 3600, "max_price": 0.2, **data}
    call["departure"] = _at(call["departure"])
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "start_ev_session", entry, **call)
    assert err.value.translation_key == key
    assert hass.states.get(EV).state == STATE_UNKNOWN  # type: ignore[union-attr]


async def test_an_order_the_ledger_refuses_is_an_error_of_the_node(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    await entry.runtime_data.market.node.ledger.close()  # the disk went away
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass, "place_order", entry, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT)
        )
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "order_failed"


def test_communities_are_what_the_entries_say(node_dirs: NodeDirs) -> None:
    """The fixture's entries really are members of their community."""
    entry = node_dirs.entry()
    path = node_dirs.root / "config" / ".storage" / DOMAIN / entry.data["node_dir"]
    community = Community.load(path / "community.json")
    assert community.community_id.hex() == entry.unique_id


async def test_leaving_the_community_voids_the_households_orders_and_stops_new_ones(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    await _call(hass, "place_order", entry, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT))
    await _call(hass, "leave_community", entry)
    node = entry.runtime_data.market.node
    assert not node.status().is_member
    assert {order.status for order in node.order_book(SLOT)} == {OrderStatus.REVOKED}
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "place_order", entry, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT)
        )
    assert err.value.translation_key == "revoked"
    assert "left the community" in str(err.value)
    with pytest.raises(ServiceValidationError) as again:
        await _call(hass, "leave_community", entry)
    assert again.value.translation_key == "revoked"


async def test_rotating_the_key_restarts_the_node_with_a_key_that_trades(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    old = entry.runtime_data.market.node
    result = await _call(hass, "rotate_key", entry, True)
    await hass.async_block_till_done()
    node = entry.runtime_data.market.node
    assert node is not old and entry.state is ConfigEntryState.LOADED
    assert node.identity.public_key.hex() == result["node_id"] != old.identity.public_key.hex()
    assert node.status().is_member and node.status().members == 1
    await _call(hass, "place_order", entry, side="buy", energy_kwh=1, price=0.15, slot=_at(SLOT))
    [order] = node.order_book(SLOT)
    assert order.status is OrderStatus.LIVE and order.own
