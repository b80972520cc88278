"""The community's surplus signal: what the open slots' books would leave unsold.

Any flexible load (a heat-pump boiler, a pool pump) can follow it: the energy the
neighbours offer in the coming slots that no bid would take if the books cleared now,
read with the community's own mechanism (market.auction's `indicate`). The node tells
its host when the next open slot's figure moves by its surplus step or more, not on
every order: one `SurplusChanged` per step of change at most, however busy the book.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Final

from ..auction import indicate
from ..terms import CommunityTerms
from .events import NodeEvent, SurplusChanged
from .index import MarketIndex
from .views import SlotSurplus

# The most slots a forecast covers: a day of 15-minute slots.
MAX_FORECAST_SLOTS: Final = 96


class SurplusWatch:
    """Reads the open slots' books and tells when the next slot's surplus moves."""

    def __init__(
        self,
        index: MarketIndex,
        terms: CommunityTerms,
        emit: Callable[[NodeEvent], None],
        step_wh: int,
    ) -> None:
        """Raises ValueError unless `step_wh` is a positive integer."""
        if type(step_wh) is not int or step_wh < 1:
            raise ValueError(f"surplus_step_wh must be a positive integer (got {step_wh!r})")
        self.index = index
        self.terms = terms
        self.step_wh = step_wh
        self._params = terms.clearing_params()
        self._emit = emit
        self._slot: int | None = None
        # What the host was last told: nothing is unsold before anything was told.
        self._told_wh = 0

    def slot_surplus(self, slot: int) -> SlotSurplus:
        """`slot`'s live book cleared now."""
        orders = [order.to_order() for order in self.index.order_set(slot)]
        indication = indicate(orders, self._params)
        return SlotSurplus(
            slot=slot,
            unmatched_sell_wh=indication.unmatched_sell_wh,
            total_sell_wh=indication.total_sell_wh,
            total_buy_wh=indication.total_buy_wh,
            price=indication.price,
        )

    def forecast(self, now_s: int, count: int) -> list[SlotSurplus]:
        """The next `count` open slots (at most MAX_FORECAST_SLOTS), earliest first."""
        count = max(0, min(count, MAX_FORECAST_SLOTS))
        return [self.slot_surplus(slot) for slot in self.terms.open_slots(now_s, count)]

    def check(self, now_s: int, changed: Collection[int] | None = None) -> None:
        """Tell the host if the next open slot's surplus moved by the step or more since
        it was last told. `changed`: the slots whose books changed (None: any may
        have); the book is read again only when the next slot's did, or it is a new one."""
        slot = self.terms.first_open_slot(now_s)
        if changed is not None and slot == self._slot and slot not in changed:
            return
        self._slot = slot
        surplus = self.slot_surplus(slot)
        if abs(surplus.unmatched_sell_wh - self._told_wh) < self.step_wh:
            return
        self._told_wh = surplus.unmatched_sell_wh
        self._emit(
            SurplusChanged(
                surplus.slot,
                surplus.unmatched_sell_wh,
                surplus.total_sell_wh,
                surplus.total_buy_wh,
                surplus.price,
            )
        )

    def next_check_ms(self, now_s: int) -> int:
        """When the next open slot's gate closes: the slot after it is the next then."""
        return self.terms.gate_closure(self.terms.first_open_slot(now_s)) * 1000
