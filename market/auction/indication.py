"""What a book would give if it cleared now: the sell volume left unmatched.

The community's surplus signal (docs/market.md, "Indicative clearing") runs the real
mechanism on a slot's live book before its gate closes, so a household's flexible loads
(a boiler, a pool pump) can follow the energy its neighbours offer and nobody buys. It
is an indication, never signed or settled: the book may change until the gate closes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..model import Order, Side
from .clearing import DEFAULT_PARAMS, clear
from .params import ClearingParams


@dataclass(frozen=True, slots=True, kw_only=True)
class Indication:
    """One slot's book cleared now: every quantity in Wh, the price in ticks.

    `matched_sell_wh` is what the asks would sell; `price` the price buyers would pay
    (None without a trade, and under the pairwise mechanisms, which have no one price).
    """

    total_sell_wh: int
    total_buy_wh: int
    matched_sell_wh: int
    price: int | None

    @property
    def unmatched_sell_wh(self) -> int:
        """The asks' energy that would find no buyer: the community's surplus."""
        return self.total_sell_wh - self.matched_sell_wh


def indicate(orders: Iterable[Order], params: ClearingParams = DEFAULT_PARAMS) -> Indication:
    """Clear one slot's orders with `params` and say what stays unsold.

    Raises what `clear` raises. The matched volume is read from the sellers' fills, so
    McAfee's trade reduction (which excludes the marginal orders) leaves them unmatched.
    """
    order_list = list(orders)
    result = clear(order_list, params)
    sell, buy = Side.SELL, Side.BUY
    return Indication(
        total_sell_wh=sum(order.energy_wh for order in order_list if order.side is sell),
        total_buy_wh=sum(order.energy_wh for order in order_list if order.side is buy),
        matched_sell_wh=sum(fill.energy_wh for fill in result.fills if fill.side is sell),
        price=result.price,
    )
