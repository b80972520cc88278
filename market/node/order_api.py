"""The node's API for the host's own orders (a mixin of `Node`): place, cancel,
withdraw, and the order book, through the node's order desk (market.node.orders), and
what the open books would leave unsold (the surplus signal, market.node.surplus)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..model import Side
from .orders import API_SOURCE

if TYPE_CHECKING:
    from .catchup import CatchUp
    from .clock import Clock
    from .index import HeldOrder
    from .orders import OrderDesk
    from .surplus import SurplusWatch
    from .views import BookOrder, SlotSurplus


class OrderControls:
    """Orders for the host."""

    # The node's parts this mixin uses (set by Node.__init__).
    _orders: OrderDesk
    _catchup: CatchUp
    _surplus: SurplusWatch
    clock: Clock

    async def place_order(
        self,
        side: Side,
        energy_wh: int,
        price: int,
        slot: int,
        *,
        expires_s: int = 0,
        source: str = API_SOURCE,
    ) -> str:
        """Sign and gossip an order for `slot`; returns its id. Raises OrderRejectedError."""
        self._catchup.check()
        return await self._orders.place(side, energy_wh, price, slot, expires_s, source)

    async def cancel_order(self, order_id: str, *, source: str = API_SOURCE) -> None:
        """Withdraw one of this node's orders before its gate closure."""
        self._catchup.check()
        await self._orders.cancel(order_id, source)

    async def withdraw_orders(self, source: str) -> int:
        """Cancel every open order of `source` (an agent's id, or a host's name for its
        own orders) whose gate is still open; returns how many were withdrawn (0 while the
        node catches up its chain: it withdraws them once it signs again)."""
        if self._catchup.defer(partial(self._orders.withdraw, source)):
            return 0
        return await self._orders.withdraw(source)

    def order_book(self, slot: int) -> list[BookOrder]:
        """Every order held for `slot`, with the rule's verdict on each."""
        return self._orders.order_book(slot)

    def open_orders(self) -> list[BookOrder]:
        """This household's live orders for slots whose gate is still open, by slot."""
        return self._orders.open_orders()

    def held_order(self, order_id: str) -> HeldOrder | None:
        """An order of any member, while its slot is remembered."""
        return self._orders.held(order_id)

    def surplus_forecast(self, now_s: int | None = None, count: int = 8) -> list[SlotSurplus]:
        """The next `count` slots whose gates are open at `now_s` (default: the node's
        clock), earliest first, each as its live book would clear now: the ask volume no
        bid would take, the books' totals and the indicative price. At most 96 slots."""
        if now_s is None:
            now_s = self.clock.now_ms() // 1000
        return self._surplus.forecast(now_s, count)
