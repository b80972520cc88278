"""Volume and quantity rules shared by the mechanisms: crossing volume and pro rata.

Every tie is broken by order id (compared as Unicode code points, the same order as
their UTF-8 bytes), never by arrival order, so every node gets the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Order


def max_crossing(
    bid_levels: Sequence[tuple[int, int]], ask_levels: Sequence[tuple[int, int]]
) -> tuple[int, int, int]:
    """The largest volume that crosses, with the last bid and ask levels that trade.

    Levels are (price, energy), bids descending, asks ascending. Returns
    (volume, marginal bid price, marginal ask price); volume 0 (and prices 0) when the
    best bid is below the best ask or a side is empty.
    """
    volume = 0
    bid_price = ask_price = 0
    i = j = 0
    n_bids, n_asks = len(bid_levels), len(ask_levels)
    bid_left = bid_levels[0][1] if n_bids else 0
    ask_left = ask_levels[0][1] if n_asks else 0
    while i < n_bids and j < n_asks and bid_levels[i][0] >= ask_levels[j][0]:
        bid_price = bid_levels[i][0]
        ask_price = ask_levels[j][0]
        step = min(bid_left, ask_left)
        volume += step
        bid_left -= step
        ask_left -= step
        if not bid_left:
            i += 1
            if i < n_bids:
                bid_left = bid_levels[i][1]
        if not ask_left:
            j += 1
            if j < n_asks:
                ask_left = ask_levels[j][1]
    return volume, bid_price, ask_price


def marginal_level(levels: Sequence[tuple[int, int]], volume: int) -> tuple[int, int, int]:
    """Where `volume` runs out when levels fill best first.

    Returns (marginal price, energy traded at that level, energy offered at it).
    Requires 0 < volume <= total energy of the levels.
    """
    left = volume
    for price, energy in levels:
        if energy >= left:
            return price, left, energy
        left -= energy
    raise ValueError(f"volume {volume} exceeds the side's energy")


def pro_rata(total: int, shares: Sequence[tuple[str, int]]) -> list[int]:
    """Split `total` Wh among (id, energy) shares in proportion to energy.

    Each share gets floor(total·e/E); the few Wh left over go one each to the largest
    fractional parts, equal fractions in ascending id order (Hamilton's method). No share
    gets more than its energy, since total <= E. Returns amounts in the input's order.
    """
    whole = sum(energy for _, energy in shares)
    if total >= whole:
        return [energy for _, energy in shares]
    amounts: list[int] = []
    remainders: list[tuple[int, str, int]] = []
    for index, (order_id, energy) in enumerate(shares):
        amount, remainder = divmod(total * energy, whole)
        amounts.append(amount)
        if remainder:
            remainders.append((-remainder, order_id, index))
    leftover = total - sum(amounts)
    if leftover:
        remainders.sort()
        for _, _, index in remainders[:leftover]:
            amounts[index] += 1
    return amounts


def allocate_side(
    orders: Sequence[Order],
    prices: Sequence[int],
    levels: Sequence[tuple[int, int]],
    volume: int,
    *,
    bids: bool,
) -> tuple[list[int], list[int]]:
    """Energy each order of one side trades when `volume` fills its levels best first.

    Levels better than the marginal one fill completely; the marginal level is shared
    pro rata. Returns the indices (into `orders`) of the orders that trade, ascending,
    and the energy each trades.
    """
    if volume <= 0:
        return [], []
    margin, traded_at_margin, offered_at_margin = marginal_level(levels, volume)
    if bids:
        full = [i for i, price in enumerate(prices) if price > margin]
    else:
        full = [i for i, price in enumerate(prices) if price < margin]
    at_margin = [i for i, price in enumerate(prices) if price == margin]
    if traded_at_margin == offered_at_margin:
        indices = sorted(full + at_margin)
        return indices, [orders[i].energy_wh for i in indices]
    energies = [orders[i].energy_wh for i in full]
    shares = pro_rata(traded_at_margin, [(orders[i].id, orders[i].energy_wh) for i in at_margin])
    for index, amount in zip(at_margin, shares, strict=True):
        if amount:
            full.append(index)
            energies.append(amount)
    return full, energies


def kappa_price(ask: int, bid: int, k_num: int, k_den: int) -> int:
    """ask + kappa·(bid - ask) to the nearest tick, exact halves down (towards the ask)."""
    return ask + (2 * k_num * (bid - ask) + k_den - 1) // (2 * k_den)
