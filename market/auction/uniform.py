"""Uniform-price k-double auction over divisible energy."""

from __future__ import annotations

from operator import itemgetter

from ..model import ClearingResult, Side, fills_from_rows
from .allocation import allocate_side, kappa_price, max_crossing
from .book import Book
from .params import ClearingParams

_by_id = itemgetter(0)


def clear_uniform(book: Book, params: ClearingParams) -> ClearingResult:
    """Trade the largest crossing volume at one price between the marginal ask and bid.

    p = s + kappa*(b - s), s and b the effective limits of the last ask and bid levels
    that trade, rounded by `kappa_price`. Levels better than the marginal ones fill
    completely; each marginal level is shared pro rata. Buyers pay p; sellers receive
    p - grid fee.
    """
    volume, bid, ask = max_crossing(book.bid_levels, book.ask_levels)
    if not volume:
        return ClearingResult(mechanism=params.mechanism, price=None, volume_wh=0, fills=())
    price = kappa_price(ask, bid, params.k_num, params.k_den)
    bids, asks = book.bids, book.asks
    bought, bought_wh = allocate_side(bids, book.bid_prices, book.bid_levels, volume, bids=True)
    sold, sold_wh = allocate_side(asks, book.ask_prices, book.ask_levels, volume, bids=False)
    ids = [bids[i].id for i in bought]
    ids += [asks[i].id for i in sold]
    sides = [Side.BUY] * len(bought) + [Side.SELL] * len(sold)
    prices = [price] * len(bought) + [price - book.grid_fee] * len(sold)
    # Ids are unique, so sorting on the id alone is a total order.
    rows = sorted(zip(ids, sides, bought_wh + sold_wh, prices, strict=True), key=_by_id)
    return ClearingResult(
        mechanism=params.mechanism,
        price=price,
        volume_wh=volume,
        fills=fills_from_rows(rows),
        grid_fees=volume * book.grid_fee,
    )
