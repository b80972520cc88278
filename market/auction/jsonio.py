"""Reading a one-slot book from JSON (the `auction clear` input format)."""

from __future__ import annotations

from typing import Any

from ..model import InvalidOrderError, Order
from .params import ClearingParams


class InvalidBookError(ValueError):
    """A JSON book is not shaped as documented in docs/market.md."""


_BOOK_KEYS = frozenset({"mechanism", "k_num", "k_den", "floor", "ceiling", "grid_fee", "slot"})
_ORDER_KEYS = frozenset({"id", "author", "slot", "side", "energy_wh", "price"})
_REQUIRED_ORDER_KEYS = _ORDER_KEYS - {"slot"}


def order_from_json_obj(obj: object, *, default_slot: int = 0) -> Order:
    """Build an `Order` from its JSON object; `slot` defaults to `default_slot`.

    Raises `InvalidBookError` for a malformed object and an `InvalidOrderError`
    subclass for an order that breaks a rule.
    """
    if not isinstance(obj, dict):
        raise InvalidBookError(f"an order must be a JSON object, got {obj!r}")
    order_id = obj.get("id")
    unknown = sorted(set(obj) - _ORDER_KEYS)
    if unknown:
        raise InvalidBookError(f"order {order_id!r}: unknown keys {unknown}")
    missing = sorted(_REQUIRED_ORDER_KEYS - set(obj))
    if missing:
        raise InvalidBookError(f"order {order_id!r}: missing keys {missing}")
    return Order(
        id=obj["id"],
        author=obj["author"],
        slot=obj.get("slot", default_slot),
        side=obj["side"],
        energy_wh=obj["energy_wh"],
        price=obj["price"],
    )


def book_from_json_obj(obj: object) -> tuple[list[Order], ClearingParams]:
    """Parse a JSON book into its orders and clearing parameters.

    Only `orders` is required; the other top-level keys default to `ClearingParams()`
    and `slot` (0) gives the slot of orders that leave theirs out.
    """
    if not isinstance(obj, dict):
        raise InvalidBookError(f"a book must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _BOOK_KEYS - {"orders"})
    if unknown:
        raise InvalidBookError(f"unknown book keys {unknown}")
    raw_orders: Any = obj.get("orders")
    if not isinstance(raw_orders, list):
        raise InvalidBookError('a book needs "orders": a list of order objects')
    default_slot = obj.get("slot", 0)
    if type(default_slot) is not int:
        raise InvalidBookError(f"slot must be an integer, got {default_slot!r}")
    params = ClearingParams(**{key: obj[key] for key in _BOOK_KEYS - {"slot"} if key in obj})
    orders = [order_from_json_obj(raw, default_slot=default_slot) for raw in raw_orders]
    return orders, params


__all__ = ["InvalidBookError", "InvalidOrderError", "book_from_json_obj", "order_from_json_obj"]
