"""The node's events, as Home Assistant sees them.

`HubEvents` is the node's subscriber: it records cleared slots in the trade book and
the agents' plans, hands settled slots to the settlements (`settlements`), raises the
equivocation repair issue, asks for a status refresh when a peer comes or goes or the
node's chain state changes (the catching-up issue), and fires the
`p2p_energy_slot_cleared`, `p2p_energy_slot_disputed`, `p2p_energy_ev_schedule` and
`p2p_energy_surplus` events. Every event's data starts with `config_entry_id`; times
are ISO 8601 UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from market.node.events import (
    AgentSchedule,
    ChainStateChanged,
    EquivocationSeen,
    NodeEvent,
    OrderAccepted,
    OrderCancelled,
    PeerDown,
    PeerUp,
    SlotCleared,
    SlotDisputed,
    SlotSettled,
    SurplusChanged,
)
from market.units import to_kwh, to_price

from .const import DOMAIN
from .ev_schedule import ev_schedule_data
from .household_agents import HouseholdAgents
from .issues import MarketIssues
from .settlements import HouseholdSettlements
from .trades import Trade, TradeBook, slot_datetime


class HubEvents:
    """Turns one node's events into the hub's state and Home Assistant events."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        node_id: str,
        currency: str,
        slot_s: int,
        trades: TradeBook,
        agents: HouseholdAgents,
        issues: MarketIssues,
        settlements: HouseholdSettlements,
        refresh_status: Callable[[], None],
        changed: Callable[[], None],
    ) -> None:
        """Events of the node `node_id` (hex) of `entry`; `changed` is called once an
        event changed what the entities show."""
        self.hass = hass
        self.entry = entry
        self.node_id = node_id
        self.currency = currency
        self.slot_s = slot_s
        self.trades = trades
        self.agents = agents
        self.issues = issues
        self.settlements = settlements
        self._refresh_status = refresh_status
        self._changed = changed

    @callback
    def on_event(self, event: NodeEvent) -> None:
        """The node's listener."""
        if isinstance(event, SlotCleared):
            trade = self.trades.record(event)
            self._fire("slot_cleared", self.slot_cleared_data(event, trade))
        elif isinstance(event, SlotDisputed):
            self._fire("slot_disputed", self.slot_disputed_data(event))
        elif isinstance(event, SlotSettled):
            # the entities change once the settlements have read the store again
            self.settlements.on_settled(event)
            return
        elif isinstance(event, SurplusChanged):
            self._fire("surplus", self.surplus_data(event))
        elif isinstance(event, AgentSchedule):
            self.agents.schedules[event.agent_id] = event.schedule
            data = ev_schedule_data(event.schedule, self.slot_s)
            self._fire("ev_schedule", {"agent_id": event.agent_id, **data})
        elif isinstance(event, PeerUp | PeerDown | ChainStateChanged):
            self._refresh_status()
        elif isinstance(event, EquivocationSeen):
            self.issues.equivocation(event.node_id, event.seq)
        elif not isinstance(event, OrderAccepted | OrderCancelled):
            return  # a rejected order changes nothing shown
        self._changed()

    def slot_cleared_data(self, event: SlotCleared, trade: Trade) -> dict[str, Any]:
        """The `slot_cleared` event's data (after `config_entry_id`)."""
        return {
            "node_id": self.node_id,
            "slot_start": slot_datetime(event.slot).isoformat(),
            "slot_end": slot_datetime(event.slot + self.slot_s).isoformat(),
            "price": None if event.price is None else to_price(event.price),
            "price_ticks": event.price,
            "currency": self.currency,
            "volume_wh": event.volume_wh,
            "bought_kwh": to_kwh(trade.bought_wh),
            "sold_kwh": to_kwh(trade.sold_wh),
            "bought_wh": trade.bought_wh,
            "sold_wh": trade.sold_wh,
            "fills": [
                {
                    "order_id": fill.order_id,
                    "side": str(fill.side),
                    "energy_wh": fill.energy_wh,
                    "price_ticks": fill.price,
                    "source": fill.source,
                }
                for fill in event.fills
            ],
            "late": event.late,
        }

    def slot_disputed_data(self, event: SlotDisputed) -> dict[str, Any]:
        """The `slot_disputed` event's data (after `config_entry_id`)."""
        return {
            "slot_start": slot_datetime(event.slot).isoformat(),
            "slot_end": slot_datetime(event.slot + self.slot_s).isoformat(),
            "reason": event.reason,
        }

    def surplus_data(self, event: SurplusChanged) -> dict[str, Any]:
        """The `surplus` event's data (after `config_entry_id`): the next open slot's
        expected unsold energy, which moved by the node's surplus step or more."""
        return {
            "slot_start": slot_datetime(event.slot).isoformat(),
            "slot_end": slot_datetime(event.slot + self.slot_s).isoformat(),
            "unmatched_kwh": to_kwh(event.unmatched_sell_wh),
            "unmatched_wh": event.unmatched_sell_wh,
            "sell_wh": event.total_sell_wh,
            "buy_wh": event.total_buy_wh,
            "price": None if event.price is None else to_price(event.price),
            "price_ticks": event.price,
            "currency": self.currency,
        }

    def _fire(self, name: str, data: dict[str, Any]) -> None:
        self.hass.bus.async_fire(
            f"{DOMAIN}_{name}", {"config_entry_id": self.entry.entry_id, **data}
        )
