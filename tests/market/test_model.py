"""Orders are validated on construction; results have one canonical JSON form."""

from __future__ import annotations

import hashlib
import json

import pytest

from market.model import (
    ClearingResult,
    Fill,
    InvalidOrderError,
    InvalidOrderIdError,
    NegativePriceError,
    NonPositiveEnergyError,
    NotAnIntegerError,
    Order,
    Side,
    UnknownSideError,
    fills_from_rows,
)

VALID = {"id": "o1", "author": "alice", "slot": 0, "side": "buy", "energy_wh": 100, "price": 1952}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("energy_wh", 0, NonPositiveEnergyError),
        ("energy_wh", -5, NonPositiveEnergyError),
        ("price", -1, NegativePriceError),
        ("side", "hold", UnknownSideError),
        ("side", "BUY", UnknownSideError),
        ("side", ["buy"], UnknownSideError),
        ("energy_wh", 1.5, NotAnIntegerError),
        ("price", 1952.0, NotAnIntegerError),
        ("energy_wh", True, NotAnIntegerError),
        ("slot", "0", NotAnIntegerError),
        ("id", "", InvalidOrderIdError),
        ("author", None, InvalidOrderIdError),
    ],
)
def test_invalid_orders_are_rejected_naming_the_order_rule_and_value(
    field: str, value: object, error: type[InvalidOrderError]
) -> None:
    """Each broken rule has its own exception type, and the message says what and where."""
    with pytest.raises(error) as caught:
        Order(**{**VALID, field: value})  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)
    assert "'o1'" in str(caught.value) or field == "id"
    assert repr(value) in str(caught.value)
    assert caught.value.value == value


def test_side_given_as_text_becomes_the_enum() -> None:
    """JSON gives "sell"; the order holds Side.SELL."""
    order = Order(**{**VALID, "side": "sell"})  # type: ignore[arg-type]
    assert order.side is Side.SELL
    assert order.price == 1952


def test_orders_and_fills_are_immutable() -> None:
    """Results are hashed and shared between tasks: nothing may change them afterwards."""
    order = Order(**VALID)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        order.price = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Fill("o1", Side.BUY, 1, 1).price = 2  # type: ignore[misc]


def test_canonical_json_is_compact_sorted_and_stable() -> None:
    """The documented byte form: sorted keys, no spaces, ASCII; equal results hash equal."""
    result = ClearingResult(
        mechanism="uniform",
        price=1100,
        volume_wh=500,
        fills=(Fill("b\u00e9", Side.BUY, 500, 1100), Fill("s", Side.SELL, 500, 1100)),
    )
    data = result.to_canonical_json()
    assert data == (
        b'{"fills":[{"energy_wh":500,"id":"b\\u00e9","price":1100,"side":"buy"},'
        b'{"energy_wh":500,"id":"s","price":1100,"side":"sell"}],"grid_fees":0,'
        b'"mechanism":"uniform","price":1100,"surplus":0,"volume_wh":500}'
    )
    assert json.loads(data) == result.to_json_obj()
    twin = ClearingResult(mechanism="uniform", price=1100, volume_wh=500, fills=result.fills)
    assert hashlib.sha256(twin.to_canonical_json()).digest() == hashlib.sha256(data).digest()


def test_fill_amount_is_energy_times_price() -> None:
    """Money in Wh*ticks, an exact integer."""
    assert Fill("x", Side.SELL, 1500, 1952).amount == 2_928_000


def test_bulk_built_fills_are_ordinary_frozen_fills() -> None:
    """The fast bulk constructor gives fills indistinguishable from Fill(...)."""
    built = fills_from_rows([("a", Side.BUY, 10, 1100), ("b", Side.SELL, 5, 900)])
    expected = (Fill("a", Side.BUY, 10, 1100), Fill("b", Side.SELL, 5, 900))
    assert built == expected
    assert [type(fill) for fill in built] == [Fill, Fill]
    assert hash(built) == hash(expected)
    with pytest.raises(AttributeError):
        built[0].price = 1  # type: ignore[misc]
