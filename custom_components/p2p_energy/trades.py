"""What the household traded, slot by slot and day by day (in the engine's units: Wh,
ticks and Wh x ticks; `market.units` converts them for display).

`TradeBook` keeps the bookkeeping the entities show: the slot being delivered and its
trade, today's totals and the latest clearing price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from homeassistant.util import dt as dt_util

from market.model import Side
from market.node.events import OwnFill, SlotCleared

# Trades of slots older than this are forgotten (today's totals keep their sums).
TRADES_KEPT_S: Final = 2 * 86_400


def slot_datetime(slot: int) -> datetime:
    """A slot start (Unix s) as an aware UTC datetime."""
    return datetime.fromtimestamp(slot, UTC)


def local_day_start(t_s: int) -> datetime:
    """Local midnight of the day holding `t_s` (Home Assistant's time zone)."""
    return dt_util.start_of_local_day(dt_util.as_local(slot_datetime(t_s)))


@dataclass(slots=True)
class Trade:
    """What the household traded in one slot (energy in Wh, money in Wh x ticks)."""

    bought_wh: int = 0
    sold_wh: int = 0
    spent: int = 0
    earned: int = 0
    # Wh bought per source ("action", "automation", "ev", ...): automations can tell whose
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


class TradeBook:
    """The household's trades by slot, the slot being delivered and today's totals."""

    def __init__(self, current_slot: int) -> None:
        """Start counting at `current_slot`, the slot being delivered."""
        self.current_slot = current_slot
        self.today = DayTotals(local_day_start(current_slot))
        self.last_price: int | None = None
        self.last_cleared_slot: int | None = None
        # Totals recorded before a restart are taken back during set-up only.
        self.accepts_restore = True
        self._trades: dict[int, Trade] = {}
        self._counted: set[int] = set()

    @property
    def current_trade(self) -> Trade:
        """What the household trades in the slot being delivered now."""
        return self._trades.get(self.current_slot) or Trade()

    def enter_slot(self, slot: int) -> bool:
        """`slot` is being delivered: count it, forget old trades. True on a new day."""
        self.current_slot = slot
        day = local_day_start(slot)
        new_day = day != self.today.start
        if new_day:
            self.today = DayTotals(day)
        horizon = slot - TRADES_KEPT_S
        for old in [s for s in self._trades if s < horizon]:
            del self._trades[old]
            self._counted.discard(old)
        self._count_started()
        return new_day

    def record(self, event: SlotCleared) -> Trade:
        """A slot is final: its trade, counted today if its delivery has started; the
        latest slot with a price sets the last price."""
        trade = Trade.of(event.fills)
        if event.fills:
            self._trades[event.slot] = trade
            if event.slot <= self.current_slot:
                self._count_started()
        if event.price is not None and event.slot >= (self.last_cleared_slot or 0):
            self.last_price = event.price
            self.last_cleared_slot = event.slot
        return trade

    def restore(self, key: str, day: datetime, value: int) -> bool:
        """Add a total recorded before a restart, if it is today's (once, at start-up)."""
        if not (self.accepts_restore and day == self.today.start):
            return False
        self.today.values[key] += value
        return True

    def as_dict(self) -> dict[str, Any]:
        """What the diagnostics download shows of the bookkeeping."""
        return {
            "current_slot": self.current_slot,
            "today": {"start": self.today.start.isoformat(), **self.today.values},
            "last_price": self.last_price,
            "last_cleared_slot": self.last_cleared_slot,
        }

    def _count_started(self) -> None:
        for slot, trade in self._trades.items():
            if slot in self._counted or slot > self.current_slot:
                continue
            if local_day_start(slot) == self.today.start:
                self.today.add(trade)
            self._counted.add(slot)
