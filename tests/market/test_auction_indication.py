"""The surplus signal's clearing: what a slot's book would leave unsold if it cleared now."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.auction import ClearingParams, clear, indicate
from market.model import Order, Side
from tests.market.auction_books import (
    MECHANISM_NAMES,
    make_order,
    max_crossing_volume,
    orders,
    params,
)

BOOKS = settings(max_examples=200, deadline=None)
# Mechanisms whose volume is the largest crossing one: more demand never sells less.
CROSSING = [name for name in MECHANISM_NAMES if name != "mcafee"]


@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
@BOOKS
@given(data=st.data())
def test_unmatched_is_between_nothing_and_every_ask(mechanism: str, data: st.DataObject) -> None:
    book = data.draw(orders())
    prm = data.draw(params(mechanism=mechanism))
    indication = indicate(book, prm)
    asks = sum(o.energy_wh for o in book if o.side is Side.SELL)
    bids = sum(o.energy_wh for o in book if o.side is Side.BUY)
    assert (indication.total_sell_wh, indication.total_buy_wh) == (asks, bids)
    assert 0 <= indication.unmatched_sell_wh <= indication.total_sell_wh
    result = clear(book, prm)
    assert indication.matched_sell_wh == result.volume_wh
    assert indication.price == result.price
    if mechanism != "mcafee":
        assert indication.matched_sell_wh == max_crossing_volume(book, prm)


@pytest.mark.parametrize("mechanism", CROSSING)
@BOOKS
@given(
    data=st.data(),
    energy_wh=st.integers(min_value=1, max_value=10**6),
    price=st.integers(min_value=0, max_value=3000),
)
def test_adding_a_bid_never_increases_unmatched(
    mechanism: str, data: st.DataObject, energy_wh: int, price: int
) -> None:
    book = data.draw(orders())
    prm = data.draw(params(mechanism=mechanism))
    bid = make_order("new-bid", Side.BUY, energy_wh, price)
    before = indicate(book, prm).unmatched_sell_wh
    assert indicate([*book, bid], prm).unmatched_sell_wh <= before


def test_mcafee_trade_reduction_can_leave_more_unsold_after_a_bid() -> None:
    """McAfee excludes the marginal orders: a new best bid can move the margin so that
    less trades. The signal follows the community's mechanism, so says so too."""
    prm = ClearingParams(mechanism="mcafee")
    book = [
        make_order("a1", Side.SELL, 50, 100),
        make_order("a2", Side.SELL, 50, 200),
        make_order("b1", Side.BUY, 60, 1000),
        make_order("b2", Side.BUY, 60, 900),
    ]
    before = indicate(book, prm)
    after = indicate([*book, make_order("b0", Side.BUY, 45, 1100)], prm)
    assert (before.unmatched_sell_wh, after.unmatched_sell_wh) == (50, 55)


def test_a_book_of_asks_only_is_all_surplus() -> None:
    book: list[Order] = [make_order("a", Side.SELL, 1200, 500), make_order("b", Side.SELL, 300, 9)]
    indication = indicate(book)
    assert indication.unmatched_sell_wh == indication.total_sell_wh == 1500
    assert indication.price is None


def test_the_surplus_is_what_the_uniform_price_leaves_unsold() -> None:
    book = [
        make_order("s1", Side.SELL, 2000, 500),
        make_order("b1", Side.BUY, 1500, 1800),
    ]
    indication = indicate(book, ClearingParams())
    assert indication.unmatched_sell_wh == 500
    assert indication.price == 1150
