"""The events automations listen to: slots cleared or disputed, EV schedules."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import T0, NodeDirs, advance_to, wait_until
from homeassistant.core import Event, HomeAssistant

from custom_components.p2p_energy.const import CONF_SELL_SURPLUS, DOMAIN
from market.model import Side
from market.node.clock import ManualClock

FIRST = T0 + 900  # a new community's first slot has no electorate yet: disputed
SLOT = T0 + 1800


def _listen(hass: HomeAssistant, name: str) -> list[Event]:
    events: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_{name}", events.append)
    return events


async def test_slot_cleared_and_disputed_events(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock
) -> None:
    cleared = _listen(hass, "slot_cleared")
    disputed = _listen(hass, "slot_disputed")
    entry = node_dirs.entry(options={CONF_SELL_SURPLUS: False})
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    sell = await node.place_order(Side.SELL, 2000, 500, SLOT)
    buy = await node.place_order(Side.BUY, 1500, 1800, SLOT)

    await advance_to(hass, market_clock, node.terms.seal_time(FIRST))
    await wait_until(hass, lambda: bool(disputed))
    assert disputed[0].data == {
        "config_entry_id": entry.entry_id,
        "slot_start": "2027-01-15T08:15:00+00:00",
        "slot_end": "2027-01-15T08:30:00+00:00",
        "reason": "no_electorate",
    }

    await advance_to(hass, market_clock, node.terms.seal_time(SLOT))
    await wait_until(hass, lambda: bool(cleared))
    event = cleared[0].data
    fills = sorted(event.pop("fills"), key=lambda fill: fill["side"])
    assert event == {
        "config_entry_id": entry.entry_id,
        "node_id": node.identity.public_key.hex(),
        "slot_start": "2027-01-15T08:30:00+00:00",
        "slot_end": "2027-01-15T08:45:00+00:00",
        "price": 0.115,
        "price_ticks": 1150,
        "currency": "EUR",
        "volume_wh": 1500,
        "bought_kwh": 1.5,
        "sold_kwh": 1.5,
        "bought_wh": 1500,
        "sold_wh": 1500,
        "late": False,
    }
    assert fills == [
        {"order_id": buy, "side": "buy", "energy_wh": 1500, "price_ticks": 1150, "source": "api"},
        {"order_id": sell, "side": "sell", "energy_wh": 1500, "price_ticks": 1150, "source": "api"},
    ]
    # Known before delivery: an automation has the rest of the gate lead to act on it.
    assert datetime.fromisoformat(event["slot_start"]) > datetime.fromtimestamp(
        market_clock.now_ms() / 1000, UTC
    )

    # A slot nobody traded in is cleared too, with no fills and no price.
    await advance_to(hass, market_clock, node.terms.seal_time(SLOT + 900))
    await wait_until(hass, lambda: len(cleared) == 2)
    assert cleared[1].data["fills"] == []
    assert cleared[1].data["price"] is None
    assert cleared[1].data["bought_kwh"] == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_ev_schedule_event(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    schedules = _listen(hass, "ev_schedule")
    entry = node_dirs.entry(options={CONF_SELL_SURPLUS: False})
    assert await hass.config_entries.async_setup(entry.entry_id)
    departure = datetime.fromtimestamp(T0 + 3600, UTC)
    await hass.services.async_call(
        DOMAIN,
        "start_ev_session",
        {
            "config_entry_id": entry.entry_id,
            "energy_kwh": 10,
            "departure": departure.isoformat(),
            "max_price": 0.2,
        },
        blocking=True,
    )
    await hass.async_block_till_done()
    data = schedules[-1].data
    assert data["config_entry_id"] == entry.entry_id
    assert data["agent_id"] == "ev"
    assert data["departure"] == "2027-01-15T09:00:00+00:00"
    assert data["energy_wh"] == 10_000
    # Three open slots before departure, 1850 Wh each: the rest must come from the grid.
    assert data["market_wh"] == 3 * 1850
    assert data["grid_wh"] + data["market_wh"] + data["shortfall_wh"] == 10_000
    assert [slot["start"] for slot in data["slots"]][:1] == ["2027-01-15T08:00:00+00:00"]
    assert data["slots"][-1]["end"] == "2027-01-15T09:00:00+00:00"
    await hass.config_entries.async_unload(entry.entry_id)
