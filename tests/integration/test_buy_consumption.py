"""A household with only a Linky (no EV, no steerable load) buys its neighbours' surplus:
its node learns what it draws from the readings it signs, and the consumption buyer,
on by default, bids that for the coming slots (issue #17, point 1).

The Linky is simulated: a loopback TIC line playing historic frames whose BASE index
rises 500 Wh a slot; the neighbour is a headless node on the same manual clock.
"""

from __future__ import annotations

from typing import Any

from conftest import T0, TicLine, advance_to, wait_until
from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_BUY_CONSUMPTION,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_PEERS,
    CONF_SELL_SURPLUS,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    METER_SOURCE_TIC,
)
from market.agents import HouseholdLimits, Observation, PvSellerAgent, SlotForecast
from market.meter.encoder import encode_frame
from market.meter.frame import Mode
from market.node.clock import ManualClock
from market.node.events import SlotCleared
from tests.market.node_harness import Household, run_slot

ADCO = "031428097115"
SLOT_WH = 500  # 2 kW drawn all along
SWITCH = "switch.maison_buy_consumption_from_neighbours"


def _linky(index_wh: int, papp_va: int) -> bytes:
    return encode_frame(
        Mode.HISTORIC,
        [
            ("ADCO", ADCO, None),
            ("OPTARIF", "BASE", None),
            ("ISOUSC", "45", None),
            ("BASE", f"{index_wh:09d}", None),
            ("PTEC", "TH..", None),
            ("IINST", "009", None),
            ("IMAX", "090", None),
            ("PAPP", f"{papp_va:05d}", None),
        ],
    )


def _sunny(now_s: int) -> Observation:
    first = now_s - now_s % 900
    return Observation(
        forecast=tuple(
            SlotForecast(slot=first + i * 900, pv_wh=1100, load_wh=200) for i in range(8)
        )
    )


async def test_a_linky_household_without_an_ev_buys_the_neighbours_surplus(
    hass: HomeAssistant,
    market_clock: ManualClock,
    neighbour: Household,
    tic_line: TicLine,
) -> None:
    [entry] = hass.config_entries.async_entries(DOMAIN)
    assert isinstance(entry, MockConfigEntry)
    tic_line.data = _linky(10_000_000, 2000)
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_PEERS: [f"127.0.0.1:{neighbour.node.port}"],
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: tic_line.url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: ADCO,
        },
        options={CONF_SELL_SURPLUS: False, CONF_UPDATE_INTERVAL: 1},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data.market
    node = hub.node
    neighbour.node.add_peer(f"127.0.0.1:{node.port}")
    cleared: list[Event[Any]] = []
    hass.bus.async_listen(f"{DOMAIN}_slot_cleared", cleared.append)
    # on by default, like the PV seller: a switch, and the household's own limits
    assert hass.states.get(SWITCH).state == "on"  # type: ignore[union-attr]

    def heard(at: int, papp_va: int) -> bool:
        readings = hub.readings.observe(at).readings
        return bool(readings) and readings[-1].at >= at and readings[-1].import_w == papp_va

    # Three slots of steady import, each boundary heard with the index it reached.
    await wait_until(hass, lambda: heard(T0, 2000))
    for k in range(1, 4):
        tic_line.data = _linky(10_000_000 + k * SLOT_WH, 2000 + k)
        await wait_until(hass, lambda k=k: heard(market_clock.now_ms() // 1000, 2000 + k))
        await advance_to(hass, market_clock, T0 + k * 900 + 1)
        await wait_until(hass, lambda k=k: heard(T0 + k * 900 + 1, 2000 + k))
    await wait_until(hass, lambda: node.status().counters["readings_signed"] == 3)

    # What the node expects it to draw in the coming slots: what it drew.
    now_s = market_clock.now_ms() // 1000
    coming = node.terms.open_slots(now_s, 4)
    assert {slot: node.demand_forecast(now_s).get(slot) for slot in coming} == dict.fromkeys(
        coming, SLOT_WH
    )

    limits = HouseholdLimits(
        max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
    )
    neighbour.node.set_observation_source(_sunny)
    neighbour.node.add_agent(PvSellerAgent("pv", node.terms, limits))
    await neighbour.node.run_agents_now()
    await node.run_agents_now()
    assert {
        order.slot: order.energy_wh
        for order in node.open_orders()
        if order.source == "buy_consumption"
    } == dict.fromkeys(coming, SLOT_WH)

    ours = Household(node)
    await run_slot(market_clock, [ours, neighbour], coming[0])
    await wait_until(hass, lambda: any(e.data["bought_wh"] for e in cleared))
    [bought] = [e.data for e in cleared if e.data["bought_wh"]]
    assert bought["bought_wh"] == SLOT_WH
    assert {fill["source"] for fill in bought["fills"]} == {"buy_consumption"}
    # Bid at most its own grid price (OPTARIF BASE: the base price), the neighbour's
    # ask at least its feed-in: the uniform price lies between.
    assert all(400 <= fill["price_ticks"] <= 1952 for fill in bought["fills"])
    [theirs] = [e for e in neighbour.of_type(SlotCleared) if e.slot == coming[0]]
    assert theirs.sold_wh == SLOT_WH
    await hass.async_block_till_done()
    assert float(hass.states.get("sensor.maison_energy_bought_today").state) == 0.5  # type: ignore[union-attr]

    # Switched off: its bids are withdrawn, and it stays off (the option) after a restart.
    await hass.services.async_call("switch", "turn_off", {"entity_id": SWITCH}, blocking=True)
    assert not [order for order in node.open_orders() if order.source == "buy_consumption"]
    assert entry.options[CONF_BUY_CONSUMPTION] is False
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert not entry.runtime_data.market.agents.enabled("buy_consumption")
    assert hass.states.get(SWITCH).state == "off"  # type: ignore[union-attr]
    assert await hass.config_entries.async_unload(entry.entry_id)
