"""The Energy dashboard's neighbour statistics (issue #16, point 6): hourly long-term
statistics of the energy allocated from and to the neighbours and its money, imported
once a slot's settlement is final, never counted twice (a re-judged slot, a restart).

Home Assistant's node and a headless neighbour trade, meter and settle on loopback on
the tests' clock; the statistics are read back from a real (in-memory) recorder.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import T0, NodeDirs
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from settlement_support import PRICE, Neighbourhood, Trade, neighbour_statistics

from custom_components.p2p_energy.market_hub import MarketHub
from market.node.clock import ManualClock
from market.node.events import SlotSettled
from market.settlement import HouseholdSettlement
from market.settlement.records import SettledSlot, SettleState
from market.settlement.store import SettlementStore, SettlementStoreError
from market.units import to_money
from tests.market.node_harness import Household

H1 = T0 + 3600  # the first whole hour in which the new community's slots can be final
H2 = H1 + 3600
H3 = H2 + 3600


def _money(wh: int) -> float:
    return round(to_money(wh * PRICE), 6)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """A recorder for every test here: it must be set up before Home Assistant."""


@pytest.fixture
def hub(home: MockConfigEntry) -> MarketHub:
    return home.runtime_data.market


@pytest.fixture
def street(
    hass: HomeAssistant, market_clock: ManualClock, hub: MarketHub, neighbour: Household
) -> Neighbourhood:
    return Neighbourhood.of(hass, market_clock, hub, neighbour)


def _settled(hass: HomeAssistant, hub: MarketHub) -> list[SlotSettled]:
    events: list[SlotSettled] = []
    hub.node.subscribe(lambda e: events.append(e) if isinstance(e, SlotSettled) else None)
    return events


def _status(hass: HomeAssistant) -> tuple[str, int]:
    """The settlement status entity's state and disputed slots."""
    state = hass.states.get("sensor.maison_settlement")
    assert state is not None
    return state.state, int(state.attributes["disputed_slots"])


async def test_final_slots_are_summed_into_their_hour(
    hass: HomeAssistant, hub: MarketHub, street: Neighbourhood
) -> None:
    async def nothing_before_final() -> None:
        rows = await neighbour_statistics(hass, hub)
        assert all(found == [] for found in rows.values())

    # two slots bought in the first hour (and more drawn from the grid), one sold in the
    # next
    trades = [Trade(H1, 500, grid_wh=200), Trade(H1 + 900, 300), Trade(H2, -400)]
    await street.deliver(trades, before_settling=nothing_before_final)

    rows = await neighbour_statistics(hass, hub)
    assert rows["energy_from_neighbours"] == [(H1, 0.8, 0.8), (H2, 0.0, 0.8)]
    assert rows["energy_to_neighbours"] == [(H1, 0.0, 0.0), (H2, 0.4, 0.4)]
    assert rows["cost_from_neighbours"] == [(H1, _money(800), _money(800)), (H2, 0.0, _money(800))]
    assert rows["compensation_to_neighbours"] == [(H1, 0.0, 0.0), (H2, _money(400), _money(400))]
    # the rest of what the meter counted is the supplier's: nothing counted twice
    assert rows["energy_from_grid"] == [(H1, 0.2, 0.2), (H2, 0.0, 0.2)]
    assert rows["energy_to_grid"] == [(H1, 0.0, 0.0), (H2, 0.0, 0.0)]


async def test_a_slot_judged_final_late_is_counted_once_across_a_restart(
    hass: HomeAssistant,
    home: MockConfigEntry,
    hub: MarketHub,
    street: Neighbourhood,
    market_clock: ManualClock,
) -> None:
    settled = _settled(hass, hub)
    # cut apart once the readings are exchanged: each node seals alone, so the slot is
    # disputed at its deadline (one seal of two)
    await street.deliver([Trade(H1, 500)], before_settling=street.cut)
    assert [e.state for e in settled if e.slot == H1] == [SettleState.DISPUTED]
    rows = await neighbour_statistics(hass, hub)
    assert rows["energy_from_neighbours"] == []  # provisional: nothing imported
    assert _status(hass) == ("disputed", 1)

    # the partition heals: each node's seal, signed before the deadline, reaches the
    # other, and the slot is judged again: final
    street.join()
    await street.step(market_clock.now_ms() // 1000 + 1)
    await street.step(market_clock.now_ms() // 1000 + 1)
    assert [e.state for e in settled if e.slot == H1] == ["disputed", "final"]
    rows = await neighbour_statistics(hass, hub)
    assert rows["energy_from_neighbours"] == [(H1, 0.5, 0.5)]
    assert rows["cost_from_neighbours"] == [(H1, _money(500), _money(500))]
    assert _status(hass) == ("ok", 0)

    # a restart imports the last hour again from the store, without adding it twice
    assert await hass.config_entries.async_reload(home.entry_id)
    await hass.async_block_till_done()
    hub = home.runtime_data.market
    street.ours = Household(hub.node)
    street.join()
    rows = await neighbour_statistics(hass, hub)
    assert rows["energy_from_neighbours"][0] == (H1, 0.5, 0.5)
    assert {total for _start, _state, total in rows["energy_from_neighbours"]} == {0.5}

    # and the sums continue from there
    await street.deliver([Trade(H3, 200)])
    rows = await neighbour_statistics(hass, hub)
    assert rows["energy_from_neighbours"][0] == (H1, 0.5, 0.5)
    assert rows["energy_from_neighbours"][-1] == (H3, 0.2, 0.7)
    assert rows["cost_from_neighbours"][-1] == (H3, _money(200), _money(700))


def _final(slot: int, household: str, bought_wh: int) -> SettledSlot:
    """A slot's final settlement in which `household` bought `bought_wh` locally."""
    row = HouseholdSettlement(
        household=household,
        measured=True,
        import_wh=bought_wh,
        export_wh=0,
        local_bought_wh=bought_wh,
        local_sold_wh=0,
        grid_import_wh=0,
        grid_export_wh=0,
        local_paid=bought_wh * PRICE,
        local_received=0,
        grid_paid=0,
        grid_received=0,
        baseline_cost=0,
    )
    return SettledSlot(slot, SettleState.FINAL, (row,))


async def test_an_hour_settled_after_later_ones_moves_their_sums(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    """The order in which slots become final does not matter: an earlier hour imported
    after later ones is recomputed, and so are the later sums. (The node's store is
    written here as its settlement keeper writes it, in the order a re-judgement would:
    no two real nodes can make an earlier slot final after a later one.)"""
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: MarketHub = entry.runtime_data.market
    store = SettlementStore.in_dir(hub.node.data.path)
    imported = []
    try:
        for slot, bought in ((H3, 300), (H1, 500), (H1 + 900, 100)):
            store.put(_final(slot, hub.node_id, bought))
            hub.settlements.statistics.slot_verified(slot)
            rows = await neighbour_statistics(hass, hub)
            imported.append(rows["energy_from_neighbours"])
    finally:
        store.close()
    assert imported == [
        [(H3, 0.3, 0.3)],
        [(H1, 0.5, 0.5), (H2, 0.0, 0.5), (H3, 0.3, 0.8)],
        [(H1, 0.6, 0.6), (H2, 0.0, 0.6), (H3, 0.3, 0.9)],
    ]
    assert rows["cost_from_neighbours"][-1] == (H3, _money(300), _money(900))
    await hass.config_entries.async_unload(entry.entry_id)


async def test_an_import_the_store_refused_is_retried_with_the_next(
    hass: HomeAssistant, node_dirs: NodeDirs, caplog: pytest.LogCaptureFixture
) -> None:
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: MarketHub = entry.runtime_data.market
    store = SettlementStore.in_dir(hub.node.data.path)
    read = hub.node.settled_slots

    async def refused(start: int, end: int) -> Any:
        raise SettlementStoreError("disk I/O error")

    try:
        store.put(_final(H1, hub.node_id, 500))
        # the node's store fails once (a disk error): nothing is imported, and said so
        hub.node.settled_slots = refused  # type: ignore[method-assign]
        hub.settlements.statistics.slot_verified(H1)
        assert (await neighbour_statistics(hass, hub))["energy_from_neighbours"] == []
        assert "importing the neighbour statistics failed" in caplog.text
        # it reads again: the refused hour comes with the next one
        hub.node.settled_slots = read  # type: ignore[method-assign]
        store.put(_final(H2, hub.node_id, 100))
        hub.settlements.statistics.slot_verified(H2)
        rows = await neighbour_statistics(hass, hub)
    finally:
        store.close()
    assert rows["energy_from_neighbours"] == [(H1, 0.5, 0.5), (H2, 0.1, 0.6)]
    await hass.config_entries.async_unload(entry.entry_id)
