"""Clearing parameters and books are checked before anything is cleared."""

from __future__ import annotations

import pytest

from market.auction import (
    ClearingParams,
    InvalidGridFeeError,
    InvalidKappaError,
    InvalidParamsError,
    InvalidPriceBoundsError,
    UnknownMechanismError,
    clear,
)
from market.model import DuplicateOrderIdError, MixedSlotsError, Order, Side
from tests.market.auction_books import make_order


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"k_num": 3, "k_den": 2}, InvalidKappaError),
        ({"k_num": -1, "k_den": 2}, InvalidKappaError),
        ({"k_num": 0, "k_den": 0}, InvalidKappaError),
        ({"k_num": 0.5, "k_den": 1}, InvalidKappaError),
        ({"floor": -1}, InvalidPriceBoundsError),
        ({"floor": 500, "ceiling": 400}, InvalidPriceBoundsError),
        ({"ceiling": 1952.0}, InvalidPriceBoundsError),
        ({"grid_fee": -3}, InvalidGridFeeError),
        ({"mechanism": 7}, UnknownMechanismError),
    ],
)
def test_invalid_params_are_rejected_with_the_offending_value(
    kwargs: dict[str, object], error: type[InvalidParamsError]
) -> None:
    """Each broken rule has its own exception type."""
    with pytest.raises(error):
        ClearingParams(**kwargs)  # type: ignore[arg-type]


def test_unknown_mechanism_is_rejected_by_name() -> None:
    """A typo in the mechanism name fails loudly, naming it."""
    with pytest.raises(UnknownMechanismError, match="'unifrom'"):
        clear([], ClearingParams(mechanism="unifrom"))


def test_duplicate_ids_are_rejected_naming_the_smallest_duplicate() -> None:
    """Ties are broken by id, so ids must be unique; the error is arrival-independent."""
    book = [
        make_order("z", Side.BUY, 1, 1000),
        make_order("z", Side.SELL, 1, 900),
        make_order("a", Side.BUY, 1, 1000),
        make_order("a", Side.BUY, 2, 1000),
    ]
    for arrival in (book, book[::-1]):
        with pytest.raises(DuplicateOrderIdError, match="order 'a'"):
            clear(arrival)


def test_orders_of_different_slots_are_not_cleared_together() -> None:
    """One clearing is one slot; the error names the first id outside the earliest slot."""
    book = [
        make_order("a", Side.BUY, 1, 1000),
        Order(id="b", author="x", slot=900, side=Side.SELL, energy_wh=1, price=900),
    ]
    with pytest.raises(MixedSlotsError, match=r"order 'a'.*\[900, 1764000000\]"):
        clear(book)
