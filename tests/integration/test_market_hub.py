"""The market hub as the entities' push coordinator: one snapshot per update, written
from node events, read by every entity without asking the node again."""

from __future__ import annotations

from unittest.mock import patch

from conftest import T0, NodeDirs
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.market_hub import MarketHub
from market.model import Side
from market.node.events import OrderAccepted, OrderCancelled

SLOT = T0 + 1800
OPEN_ORDERS = "sensor.maison_open_orders"
MEMBERS = "sensor.rue_des_lilas_members"


async def _hub(hass: HomeAssistant, node_dirs: NodeDirs) -> tuple[MockConfigEntry, MarketHub]:
    entry = node_dirs.entry()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry, entry.runtime_data.market


def _count_updates(hub: MarketHub) -> list[None]:
    updates: list[None] = []
    hub.async_add_listener(lambda: updates.append(None))
    return updates


async def test_a_burst_of_node_events_is_one_update(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry, hub = await _hub(hass, node_dirs)
    updates = _count_updates(hub)
    accepted = OrderAccepted("o1", SLOT, Side.BUY, 1000, 1500, "api")
    hub.events.on_event(accepted)
    hub.events.on_event(OrderCancelled("o1", SLOT, "api"))
    hub.events.on_event(accepted)
    assert updates == []  # on the next turn of the loop
    await hass.async_block_till_done()
    assert len(updates) == 1
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_state_write_reads_the_snapshot_not_the_node(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry, hub = await _hub(hass, node_dirs)
    node = hub.node
    updates = _count_updates(hub)
    with patch.object(node, "open_orders", wraps=node.open_orders) as open_orders:
        await node.place_order(Side.SELL, 2000, 500, SLOT)
        await node.place_order(Side.BUY, 1500, 1800, SLOT)
        await hass.async_block_till_done()
    # The open orders sensor shows the count and the orders: the node is asked once
    # per update, whatever the entities write.
    assert updates
    assert open_orders.call_count == len(updates)
    state = hass.states.get(OPEN_ORDERS)
    assert state is not None
    assert state.state == "2"
    assert len(state.attributes["orders"]) == 2
    assert hub.data.open_orders == tuple(node.open_orders())
    await hass.config_entries.async_unload(entry.entry_id)


async def test_update_entity_refreshes_the_status(hass: HomeAssistant, node_dirs: NodeDirs) -> None:
    """`homeassistant.update_entity` asks the coordinator, which reads the node's status."""
    assert await async_setup_component(hass, "homeassistant", {})
    entry, hub = await _hub(hass, node_dirs)
    before = hub.status_at
    with patch.object(hub.node, "status", wraps=hub.node.status) as status:
        await hass.services.async_call(
            "homeassistant", "update_entity", {"entity_id": MEMBERS}, blocking=True
        )
    assert status.call_count == 1
    assert hub.status_at is not None and before is not None and hub.status_at >= before
    state = hass.states.get(MEMBERS)
    assert state is not None
    assert state.state == "1"
    await hass.config_entries.async_unload(entry.entry_id)
