"""The resident's own rules at run time: `set_limits` changes the agents' prices and the
hours they do not trade, at once and across a restart; the quiet hours block orders."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import T0, NodeDirs, advance_to, wait_until
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_BUY_CONSUMPTION,
    CONF_FLEXIBLE_LOAD,
    CONF_MAX_BUY_PRICE,
    CONF_MIN_SELL_PRICE,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_SELL_SURPLUS,
    DOMAIN,
)
from market.node.clock import ManualClock
from market.node.index import OrderStatus
from tests.market.node_harness import Household

# T0 is midnight on the tests' clock (US/Pacific): the flexible load buys from 10:00 local.
TEN = T0 + 10 * 3600
BOILER = {CONF_FLEXIBLE_LOAD: True, CONF_SELL_SURPLUS: False, CONF_BUY_CONSUMPTION: False}


async def _loaded(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _set_limits(hass: HomeAssistant, entry: MockConfigEntry, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN, "set_limits", {"config_entry_id": entry.entry_id, **data}, blocking=True
    )
    await hass.async_block_till_done()


def _bids(entry: MockConfigEntry) -> dict[int, int]:
    """The flexible load's live bids on the household's own book: price by slot."""
    node = entry.runtime_data.market.node
    return {
        order.slot: order.price
        for order in node.open_orders()
        if order.source == "flexible_load" and order.status is OrderStatus.LIVE
    }


async def test_set_limits_reprices_the_bids_at_once_and_keeps_them_across_a_restart(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    entry = await _loaded(hass, node_dirs.entry(options=BOILER))
    hub = entry.runtime_data.market
    ceiling = hub.terms.ceiling
    # the last minute before the gate: the ramp has reached its limit
    await advance_to(hass, market_clock, hub.terms.gate_closure(TEN) - 60)
    await wait_until(hass, lambda: TEN in _bids(entry))
    assert _bids(entry)[TEN] == ceiling

    await _set_limits(hass, entry, max_buy_price=0.12, min_sell_price=0.05)
    assert _bids(entry)[TEN] == 1200  # re-priced in this call, not at the next run
    assert entry.runtime_data.market is hub  # the node was not restarted for it
    assert (entry.options[CONF_MAX_BUY_PRICE], entry.options[CONF_MIN_SELL_PRICE]) == (1200, 500)
    assert entry.options[CONF_FLEXIBLE_LOAD] is True  # the other options kept

    # Only the price given changes; the other keeps its value.
    await _set_limits(hass, entry, max_buy_price=0.15)
    assert _bids(entry)[TEN] == 1500
    assert entry.options[CONF_MIN_SELL_PRICE] == 500

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    limits = entry.runtime_data.market.agents.limits
    assert (limits.max_buy_price, limits.min_sell_price) == (1500, 500)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_quiet_hours_cancel_the_bids_they_cover_and_move_the_energy(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    entry = await _loaded(hass, node_dirs.entry(options=BOILER))
    await advance_to(hass, market_clock, TEN - 30 * 60)  # 09:30 local
    await wait_until(hass, lambda: TEN in _bids(entry))
    assert sorted(_bids(entry)) == [TEN, TEN + 900, TEN + 1800]

    await _set_limits(hass, entry, quiet_start="10:00", quiet_end="10:30")
    # 10:00 and 10:15 are cancelled; of the horizon (09:45 to 10:30) only 10:30 is left
    assert sorted(_bids(entry)) == [TEN + 1800]
    assert (entry.options[CONF_QUIET_START], entry.options[CONF_QUIET_END]) == (
        "10:00:00",
        "10:30:00",
    )
    limits = entry.runtime_data.market.agents.limits
    assert limits.quiet == ((600, 630),)
    assert limits.timezone == str(dt_util.get_default_time_zone())

    # The hours hold for every run after, until cleared; the energy goes to later slots.
    await advance_to(hass, market_clock, TEN - 10 * 60)
    await wait_until(hass, lambda: TEN + 2700 in _bids(entry))
    assert sorted(_bids(entry)) == [TEN + 1800, TEN + 2700]
    await _set_limits(hass, entry, clear_quiet=True)
    assert TEN in _bids(entry)
    assert CONF_QUIET_START not in entry.options
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_ev_session_bids_around_the_quiet_hours(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    options = {CONF_SELL_SURPLUS: False, CONF_BUY_CONSUMPTION: False}
    entry = await _loaded(hass, node_dirs.entry(options=options))
    await _set_limits(hass, entry, quiet_start="00:00", quiet_end="01:00")
    departure = dt_util.as_local(dt_util.utc_from_timestamp(T0 + 3 * 3600))
    await hass.services.async_call(
        DOMAIN,
        "start_ev_session",
        {
            "config_entry_id": entry.entry_id,
            "energy_kwh": 3,
            "departure": departure.replace(tzinfo=None).isoformat(),
            "max_price": 0.19,
        },
        blocking=True,
    )
    await hass.async_block_till_done()
    node = entry.runtime_data.market.node
    slots = sorted(order.slot for order in node.open_orders() if order.source == "ev")
    # the horizon's first four open slots are 00:15 to 01:00: only 01:00 is not quiet
    assert slots == [T0 + 3600]
    schedule = entry.runtime_data.market.agents.schedules["ev"]
    assert [(e.slot, e.market_wh) for e in schedule.slots if e.market_wh] == [
        (T0 + 3600, 1850),
        (T0 + 4500, 1150),
    ]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_neighbours_see_the_quiet_hours_cancel_the_households_bids(
    hass: HomeAssistant, market_clock: ManualClock, neighbour: Household, home: MockConfigEntry
) -> None:
    """What the community sees: the household's bids in its quiet hours leave the
    neighbour's book too."""
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": "switch.maison_buy_for_the_flexible_load"}, blocking=True
    )
    await advance_to(hass, market_clock, TEN - 30 * 60)
    await wait_until(hass, lambda: TEN in _bids(home))
    ours = home.runtime_data.market.node_id

    def theirs(status: OrderStatus) -> set[int]:
        return {
            order.slot
            for slot in (TEN, TEN + 900)
            for order in neighbour.node.order_book(slot)
            if order.node_id == ours and order.status is status
        }

    await wait_until(hass, lambda: theirs(OrderStatus.LIVE) == {TEN, TEN + 900})
    await _set_limits(hass, home, quiet_start="10:00", quiet_end="10:30")
    await wait_until(hass, lambda: not theirs(OrderStatus.LIVE))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "limits_missing"),
        ({"quiet_start": "18:00"}, "quiet_incomplete"),
        ({"quiet_end": "20:00"}, "quiet_incomplete"),
        ({"quiet_start": "18:00", "quiet_end": "18:00:30"}, "quiet_empty"),
        (
            {"quiet_start": "18:00", "quiet_end": "20:00", "clear_quiet": True},
            "quiet_clear_and_set",
        ),
    ],
)
async def test_limits_that_cannot_work_are_refused_and_nothing_changes(
    hass: HomeAssistant, node_dirs: NodeDirs, data: dict[str, Any], key: str
) -> None:
    entry = await _loaded(hass, node_dirs.entry(options=BOILER))
    before = dict(entry.options)
    limits = entry.runtime_data.market.agents.limits
    # a valid price beside the bad hours: nothing of the call is applied
    call = {"max_buy_price": 0.1, **data} if data else {}
    with pytest.raises(ServiceValidationError) as err:
        await _set_limits(hass, entry, **call)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert entry.options == before
    assert entry.runtime_data.market.agents.limits == limits
    await hass.config_entries.async_unload(entry.entry_id)
