"""Pairwise mechanisms: the bid stack meets the ask stack, each pair at its own price."""

from __future__ import annotations

from collections.abc import Callable

from ..model import ClearingResult, Side, fills_from_rows
from .allocation import allocate_side, max_crossing
from .book import Book
from .params import ClearingParams

PairPrice = Callable[[int, int], int]
"""Buyer's price of a pair from (effective ask, effective bid)."""


def _clear_pairwise(book: Book, params: ClearingParams, pair_price: PairPrice) -> ClearingResult:
    volume, _, _ = max_crossing(book.bid_levels, book.ask_levels)
    if not volume:
        return ClearingResult(mechanism=params.mechanism, price=None, volume_wh=0, fills=())
    bids, asks = book.bids, book.asks
    bid_prices, ask_prices = book.bid_prices, book.ask_prices
    bought, bought_wh = allocate_side(bids, bid_prices, book.bid_levels, volume, bids=True)
    sold, sold_wh = allocate_side(asks, ask_prices, book.ask_levels, volume, bids=False)
    # Within a price level the stack runs in id order: that decides who meets which
    # counter-order, never arrival order.
    bid_stack = sorted(
        (-bid_prices[i], bids[i].id, energy) for i, energy in zip(bought, bought_wh, strict=True)
    )
    ask_stack = sorted(
        (ask_prices[i], asks[i].id, energy) for i, energy in zip(sold, sold_wh, strict=True)
    )
    fee = book.grid_fee
    traded: dict[tuple[str, int], tuple[Side, int]] = {}

    def add(order_id: str, price: int, side: Side, energy: int) -> None:
        key = (order_id, price)
        previous = traded.get(key)
        traded[key] = (side, energy + (previous[1] if previous else 0))

    i = j = 0
    bid_left = bid_stack[0][2]
    ask_left = ask_stack[0][2]
    while i < len(bid_stack) and j < len(ask_stack):
        neg_bid, bid_id, _ = bid_stack[i]
        ask, ask_id, _ = ask_stack[j]
        price = pair_price(ask, -neg_bid)
        step = min(bid_left, ask_left)
        add(bid_id, price, Side.BUY, step)
        add(ask_id, price - fee, Side.SELL, step)
        bid_left -= step
        ask_left -= step
        if not bid_left:
            i += 1
            if i < len(bid_stack):
                bid_left = bid_stack[i][2]
        if not ask_left:
            j += 1
            if j < len(ask_stack):
                ask_left = ask_stack[j][2]
    fills = fills_from_rows(
        (order_id, side, energy, price)
        for (order_id, price), (side, energy) in sorted(traded.items())
    )
    return ClearingResult(
        mechanism=params.mechanism,
        price=None,
        volume_wh=volume,
        fills=fills,
        grid_fees=volume * fee,
    )


def _at_bid(_ask: int, bid: int) -> int:
    return bid


def _midpoint(ask: int, bid: int) -> int:
    return ask + (bid - ask) // 2


def clear_pay_as_bid(book: Book, params: ClearingParams) -> ClearingResult:
    """Trade the largest crossing volume; every pair trades at the bid's effective limit.

    Bids (highest first) meet asks (cheapest first); the seller receives the bid minus
    the grid fee.
    """
    return _clear_pairwise(book, params, _at_bid)


def clear_midpoint(book: Book, params: ClearingParams) -> ClearingResult:
    """Trade the largest crossing volume; every pair trades at the midpoint of its limits.

    Highest bid meets cheapest ask (Quartierstrom); the pair's price is
    s + floor((b - s)/2), so an odd spread leaves the half tick with the buyer.
    """
    return _clear_pairwise(book, params, _midpoint)
