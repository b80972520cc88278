"""Shared market models: orders, fills and clearing results, in integers only.

Energy is in Wh, prices in ticks of 0.0001 currency/kWh (19.52 c€/kWh = 1952 ticks) and
amounts of money in Wh*ticks. Every node must reach bit-identical results, so no float
is accepted anywhere in these models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, make_dataclass
from enum import StrEnum
from itertools import starmap
from typing import Any


class Side(StrEnum):
    """Which side of the book an order is on."""

    BUY = "buy"
    SELL = "sell"


_SIDES: frozenset[str] = frozenset(Side)


class InvalidOrderError(ValueError):
    """An order breaks a rule of the book; names the order, the rule and the offending value."""

    rule = "invalid order"

    def __init__(self, order_id: object, value: object) -> None:
        super().__init__(f"order {order_id!r}: {self.rule} (got {value!r})")
        self.order_id = order_id
        self.value = value


class InvalidOrderIdError(InvalidOrderError):
    """The id or the author is not a non-empty string."""

    rule = "id and author must be non-empty strings"


class NotAnIntegerError(InvalidOrderError):
    """Slot, energy or price is not an int (floats would break bit-for-bit agreement)."""

    rule = "slot, energy_wh and price must be integers"


class NonPositiveEnergyError(InvalidOrderError):
    """An order's energy is zero or negative."""

    rule = "energy_wh must be > 0"


class NegativePriceError(InvalidOrderError):
    """An order's limit price is negative."""

    rule = "price must be >= 0"


class UnknownSideError(InvalidOrderError):
    """An order's side is neither "buy" nor "sell"."""

    rule = 'side must be "buy" or "sell"'


class DuplicateOrderIdError(InvalidOrderError):
    """Two orders of one book share an id, so ties could not be broken by id."""

    rule = "order ids must be unique in a book"


class MixedSlotsError(InvalidOrderError):
    """The orders of one clearing belong to different delivery slots."""

    rule = "all orders of a book must be for the same slot"


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True as an energy is a bug, never a quantity.
    return type(value) is int


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """A limit order for one delivery slot; validated on construction.

    `slot` is the slot's start in Unix seconds (UTC); `price` is the limit in ticks:
    the most a buyer pays, the least a seller accepts.
    """

    id: str
    author: str
    slot: int
    side: Side
    energy_wh: int
    price: int

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidOrderIdError(self.id, self.id)
        if not isinstance(self.author, str) or not self.author:
            raise InvalidOrderIdError(self.id, self.author)
        side: object = self.side
        if not isinstance(side, str) or side not in _SIDES:
            raise UnknownSideError(self.id, side)
        if not isinstance(side, Side):
            # "buy" equals Side.BUY, but mechanisms test identity on the hot path.
            object.__setattr__(self, "side", Side(side))
        for value in (self.slot, self.energy_wh, self.price):
            if not _is_int(value):
                raise NotAnIntegerError(self.id, value)
        if self.energy_wh <= 0:
            raise NonPositiveEnergyError(self.id, self.energy_wh)
        if self.price < 0:
            raise NegativePriceError(self.id, self.price)


@dataclass(frozen=True, slots=True)
class Fill:
    """Energy an order trades with the pool at one price.

    A buyer pays `price` per kWh; a seller receives `price` per kWh (after any grid fee).
    Positional construction is allowed (clearing builds many fills); fields are in the
    order (order_id, side, energy_wh, price).
    """

    order_id: str
    side: Side
    energy_wh: int
    price: int

    @property
    def amount(self) -> int:
        """Money of this fill in Wh*ticks."""
        return self.energy_wh * self.price

    def to_json_obj(self) -> dict[str, Any]:
        """The fill as a JSON object (see `ClearingResult.to_json_obj`)."""
        return {
            "id": self.order_id,
            "side": str(self.side),
            "energy_wh": self.energy_wh,
            "price": self.price,
        }


# Same fields, same slots, hence the same memory layout as Fill, but with the plain
# (non-frozen) __init__, which is about three times faster than the frozen one.
_FillBuilder = make_dataclass(
    "_FillBuilder", [(field.name, field.type) for field in fields(Fill)], slots=True
)


def fills_from_rows(rows: Iterable[tuple[str, Side, int, int]]) -> tuple[Fill, ...]:
    """Build many fills from (order_id, side, energy_wh, price) rows, fast.

    Each fill is built as a layout-identical mutable twin and then relabelled as a
    `Fill` (a supported `__class__` assignment), so the result is an ordinary frozen
    Fill. Clearing a large book builds one fill per matched order, and the frozen
    constructor was the largest cost of clearing 100k orders.
    """
    built: list[Any] = list(starmap(_FillBuilder, rows))
    for fill in built:
        fill.__class__ = Fill
    return tuple(built)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearingResult:
    """The outcome of clearing one slot's book.

    `fills` are sorted by (order id, price) with at most one fill per (order id, price);
    orders that trade nothing have no fill. `price` is the price every buyer pays when
    there is one (uniform, McAfee), else None (pairwise mechanisms, or no trade).
    Money is in Wh*ticks: buyers pay sellers' receipts + `grid_fees` + `surplus`, where
    `surplus` is what the mechanism itself keeps (only McAfee's trade reduction keeps any).
    """

    mechanism: str
    price: int | None
    volume_wh: int
    fills: tuple[Fill, ...]
    surplus: int = 0
    grid_fees: int = 0

    def to_json_obj(self) -> dict[str, Any]:
        """The canonical JSON form, the one the CLI prints and nodes hash."""
        return {
            "mechanism": self.mechanism,
            "price": self.price,
            "volume_wh": self.volume_wh,
            "surplus": self.surplus,
            "grid_fees": self.grid_fees,
            "fills": [fill.to_json_obj() for fill in self.fills],
        }

    def to_canonical_json(self) -> bytes:
        """UTF-8 JSON with sorted keys, no whitespace and ASCII escapes: hash these bytes."""
        return json.dumps(
            self.to_json_obj(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")

    def fills_by_order(self) -> dict[str, int]:
        """Energy traded per order id, summed over its fills."""
        traded: dict[str, int] = {}
        for fill in self.fills:
            traded[fill.order_id] = traded.get(fill.order_id, 0) + fill.energy_wh
        return traded
