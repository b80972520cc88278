"""A validated one-slot order book with the community's price bounds applied."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from ..model import DuplicateOrderIdError, MixedSlotsError, Order, Side
from .params import ClearingParams


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """The orders of one slot split by side, each with its effective limit.

    A bid's effective limit is its price lowered to the ceiling; an ask's is its price
    raised to the floor, plus the grid fee. Mechanisms compare and price with these.
    """

    bids: tuple[Order, ...]
    bid_prices: tuple[int, ...]
    bid_levels: tuple[tuple[int, int], ...]
    asks: tuple[Order, ...]
    ask_prices: tuple[int, ...]
    ask_levels: tuple[tuple[int, int], ...]
    grid_fee: int


_get_id = attrgetter("id")
_get_slot = attrgetter("slot")
_get_price = attrgetter("price")
_get_energy = attrgetter("energy_wh")


def _check_unique(orders: list[Order]) -> None:
    ids = list(map(_get_id, orders))
    if len(set(ids)) == len(ids):
        return
    seen: set[str] = set()
    duplicates: set[str] = set()
    for order_id in ids:
        if order_id in seen:
            duplicates.add(order_id)
        seen.add(order_id)
    # The smallest duplicate, so the error does not depend on arrival order.
    first = min(duplicates)
    raise DuplicateOrderIdError(first, first)


def _check_one_slot(orders: list[Order]) -> None:
    slots = set(map(_get_slot, orders))
    if len(slots) > 1:
        slot_list = sorted(slots)
        offender = min(order.id for order in orders if order.slot != slot_list[0])
        raise MixedSlotsError(offender, slot_list)


def _levels(
    prices: Sequence[int], orders: Sequence[Order], *, descending: bool
) -> tuple[tuple[int, int], ...]:
    totals: defaultdict[int, int] = defaultdict(int)
    for price, energy in zip(prices, map(_get_energy, orders), strict=True):
        totals[price] += energy
    return tuple(sorted(totals.items(), reverse=descending))


def prepare(orders: Iterable[Order], params: ClearingParams) -> Book:
    """Validate a book (unique ids, one slot) and compute effective limits and levels.

    Levels are (effective price, total energy), best first: bids descending, asks
    ascending. Raises `DuplicateOrderIdError` or `MixedSlotsError`.
    """
    order_list = list(orders)
    _check_unique(order_list)
    _check_one_slot(order_list)
    buy = Side.BUY
    bids = [order for order in order_list if order.side is buy]
    asks = [order for order in order_list if order.side is not buy]
    ceiling = params.ceiling
    bid_prices = list(map(_get_price, bids))
    if ceiling is not None:
        bid_prices = [price if price < ceiling else ceiling for price in bid_prices]
    floor = params.floor
    fee = params.grid_fee
    ask_prices = [(price if price > floor else floor) + fee for price in map(_get_price, asks)]
    return Book(
        bids=tuple(bids),
        bid_prices=tuple(bid_prices),
        bid_levels=_levels(bid_prices, bids, descending=True),
        asks=tuple(asks),
        ask_prices=tuple(ask_prices),
        ask_levels=_levels(ask_prices, asks, descending=False),
        grid_fee=fee,
    )
