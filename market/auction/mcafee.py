"""McAfee trade reduction for divisible orders (Huang, Scheller-Wolf & Sycara 2002)."""

from __future__ import annotations

from ..model import ClearingResult, Order, Side, fills_from_rows
from .allocation import max_crossing, pro_rata
from .book import Book
from .params import ClearingParams


def _marginal_index(stack: list[tuple[int, str, Order]], volume: int) -> int:
    """Index of the order holding the volume's last Wh in a stack sorted best first."""
    left = volume
    for index, (_, _, order) in enumerate(stack):
        left -= order.energy_wh
        if left <= 0:
            return index
    raise ValueError(f"volume {volume} exceeds the stack")


def clear_mcafee(book: Book, params: ClearingParams) -> ClearingResult:
    """Exclude the marginal bid and ask orders; the rest trade at the excluded ones' limits.

    Stacks are sorted best first (ties by id). The marginal bid order K and ask order L
    hold the last Wh of the largest crossing volume. Only orders ranked before K and L
    trade: buyers pay b_K, sellers receive s_L - grid fee, so no order's own limit sets
    its price and misstating the limit cannot help. The longer side is rationed pro
    rata (by energy, not price). The market keeps volume·(b_K - s_L) as surplus.
    """
    bid_pairs = zip(book.bids, book.bid_prices, strict=True)
    ask_pairs = zip(book.asks, book.ask_prices, strict=True)
    bids = sorted((-price, order.id, order) for order, price in bid_pairs)
    asks = sorted((price, order.id, order) for order, price in ask_pairs)
    # Equal prices aggregate into one level without changing the volume that crosses.
    volume, _, _ = max_crossing(book.bid_levels, book.ask_levels)
    empty = ClearingResult(mechanism=params.mechanism, price=None, volume_wh=0, fills=())
    if not volume:
        return empty
    k = _marginal_index(bids, volume)
    m = _marginal_index(asks, volume)
    buyer_price = -bids[k][0]
    seller_limit = asks[m][0]
    buyers = [(order.id, order.energy_wh) for _, _, order in bids[:k]]
    sellers = [(order.id, order.energy_wh) for _, _, order in asks[:m]]
    traded = min(sum(e for _, e in buyers), sum(e for _, e in sellers))
    if not traded:
        return empty
    seller_price = seller_limit - book.grid_fee
    rows = [
        (order_id, Side.BUY, energy, buyer_price)
        for (order_id, _), energy in zip(buyers, pro_rata(traded, buyers), strict=True)
        if energy
    ]
    rows += [
        (order_id, Side.SELL, energy, seller_price)
        for (order_id, _), energy in zip(sellers, pro_rata(traded, sellers), strict=True)
        if energy
    ]
    rows.sort()
    fills = fills_from_rows(rows)
    return ClearingResult(
        mechanism=params.mechanism,
        price=buyer_price,
        volume_wh=traded,
        fills=fills,
        surplus=traded * (buyer_price - seller_limit),
        grid_fees=traded * book.grid_fee,
    )
