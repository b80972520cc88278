"""The prices the household's planners expect in the coming slots: when the community
has surplus to sell, and at what price.

The EV and flexible-load planners put their energy in the slots whose expected price is
lowest (market.agents.plan_ev). Without expectations they bid in the earliest slots, so a
car plugged in at 8:00 buys the morning's grid energy and misses the noon surplus. The
node expects, for each coming slot:

1. the open books, if they leave neighbours' energy unsold now (`indicate` without the
   household's own bids, so that its own bids do not chase themselves away): that is the
   price such a bid would clear at (the cheapest ask plus the grid fee when nobody
   bids yet);
2. else what the same slot of day cleared at on recent days of the same kind
   (`DemandForecaster`'s table, lower median): a slot that traded nothing counts at the
   ceiling, so a planner does not wait for a surplus that never comes at night;
3. else nothing (the planner's own rule: the slot counts at its limit).

What it learned is kept in the data dir (`prices.json`) so a restarted node plans the
same; a write that fails is counted (`price_save_failures`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping

from ..agents import DemandForecaster
from ..auction import indicate
from ..model import Side
from ..terms import CommunityTerms
from .datadir import DataDir, save_slot_table
from .index import MarketIndex

_LOGGER = logging.getLogger(__name__)

# How far ahead prices are expected: a day, the longest an EV session usually plans.
EXPECTED_SLOTS = 96


class PriceHistory:
    """Cleared prices by slot of day, and the expectations drawn from them."""

    def __init__(
        self,
        terms: CommunityTerms,
        index: MarketIndex,
        me: bytes,
        data: DataDir,
        stats: MutableMapping[str, int],
    ) -> None:
        self._terms = terms
        self._index = index
        self._me = me
        self._data = data
        self._stats = stats
        self._params = terms.clearing_params()
        self._table = DemandForecaster(terms.slot_s, recent_s=0)
        self._learned: dict[int, int] = {}
        self._dirty = False

    async def load(self) -> None:
        """Learn what the previous runs saw."""
        stored = await asyncio.get_running_loop().run_in_executor(None, self._data.prices)
        for slot, price in sorted(stored.items())[-self._table.history_slots :]:
            self._remember(slot, price)
        self._dirty = False

    def learn(self, slot: int, price: int | None, volume_wh: int) -> None:
        """A slot's final clearing: its price, or None (or no volume) for no trade."""
        traded = price is not None and volume_wh > 0
        self._remember(slot, price if traded and price is not None else self._terms.ceiling)

    def _remember(self, slot: int, price: int) -> None:
        if slot in self._learned or slot % self._terms.slot_s:
            return
        self._learned[slot] = price
        self._table.learn(slot, price)
        self._dirty = True
        since = slot - self._table.history_slots * self._terms.slot_s
        for old in [old for old in self._learned if old < since]:
            del self._learned[old]

    async def save(self) -> None:
        """Keep what was learned since the last save (off the event loop)."""
        if not self._dirty:
            return
        self._dirty = False
        if not await save_slot_table(
            self._data.save_prices, dict(self._learned), self._stats, "price_save_failures"
        ):
            self._dirty = True

    def expected(self, now_s: int, count: int = EXPECTED_SLOTS) -> dict[int, int]:
        """The expected price (ticks) of the coming slots that have one."""
        terms = self._terms
        first = terms.slot_of(now_s) + terms.slot_s
        slots = range(first, first + count * terms.slot_s, terms.slot_s)
        expected = self._table.forecast(slots)
        for slot in terms.open_slots(now_s, count):
            unsold = self._unsold_price(slot)
            if unsold is not None:
                expected[slot] = unsold
        return expected

    def _unsold_price(self, slot: int) -> int | None:
        """The price a bid would clear at in `slot` while neighbours' energy stays
        unsold in its book (the household's own bids left out)."""
        orders = [
            held.to_order()
            for held in self._index.order_set(slot)
            if not (held.author == self._me and held.side is Side.BUY)
        ]
        if not orders:
            return None
        indication = indicate(orders, self._params)
        if indication.unmatched_sell_wh <= 0:
            return None
        if indication.price is not None:
            return indication.price
        # nobody bids yet: the cheapest ask with the fee the clearing adds to it
        cheapest = min(order.price for order in orders if order.side is Side.SELL)
        return min(cheapest + self._terms.grid_fee, self._terms.ceiling)
