"""What the household traded, slot by slot and day by day (in the engine's units: Wh,
ticks and Wh x ticks; `market.units` converts them for display)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from market.model import Side
from market.node.events import OwnFill


def slot_datetime(slot: int) -> datetime:
    """A slot start (Unix s) as an aware UTC datetime."""
    return datetime.fromtimestamp(slot, UTC)


@dataclass(slots=True)
class Trade:
    """What the household traded in one slot (energy in Wh, money in Wh x ticks)."""

    bought_wh: int = 0
    sold_wh: int = 0
    spent: int = 0
    earned: int = 0
    # Wh bought per source ("api", "ev", "flexible_load"): automations can tell whose
    # purchase the slot's energy is.
    bought_by: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, fills: Iterable[OwnFill]) -> Trade:
        """The sums of a slot's own fills."""
        trade = cls()
        for fill in fills:
            if fill.side is Side.BUY:
                trade.bought_wh += fill.energy_wh
                trade.spent += fill.amount
                trade.bought_by[fill.source] = trade.bought_by.get(fill.source, 0) + fill.energy_wh
            else:
                trade.sold_wh += fill.energy_wh
                trade.earned += fill.amount
        return trade


TOTAL_KEYS: Final = ("bought_wh", "sold_wh", "spent", "earned")


@dataclass(slots=True)
class DayTotals:
    """What the household traded in the slots delivered since local midnight `start`."""

    start: datetime
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOTAL_KEYS, 0))

    def add(self, trade: Trade) -> None:
        """Count a slot whose delivery has started."""
        for key in TOTAL_KEYS:
            self.values[key] += getattr(trade, key)
