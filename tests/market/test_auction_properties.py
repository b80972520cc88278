"""Properties every mechanism must keep on any book: balance, limits, money, determinism."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.auction import ClearingParams, clear
from market.model import ClearingResult, Order, Side
from tests.market.auction_books import (
    MECHANISM_NAMES,
    effective_ask,
    effective_bid,
    energy,
    max_crossing_volume,
    money,
    orders,
    params,
)

BOOKS = settings(max_examples=250, deadline=None)


def check_invariants(book: list[Order], prm: ClearingParams, result: ClearingResult) -> None:
    """What must hold for every mechanism on every book."""
    by_id = {order.id: order for order in book}
    assert energy(result, Side.BUY) == energy(result, Side.SELL) == result.volume_wh
    keys = [(fill.order_id, fill.price) for fill in result.fills]
    assert keys == sorted(set(keys)), "fills sorted by (id, price), one per (id, price)"
    for fill in result.fills:
        order = by_id[fill.order_id]
        assert fill.side is order.side
        assert fill.energy_wh > 0
        if fill.side is Side.BUY:
            assert fill.price <= order.price
            assert fill.price <= effective_bid(order, prm)
            assert fill.price >= prm.floor + prm.grid_fee
        else:
            assert fill.price >= order.price
            assert fill.price >= prm.floor
            assert fill.price + prm.grid_fee <= (prm.ceiling or fill.price + prm.grid_fee)
    for order_id, traded in result.fills_by_order().items():
        assert traded <= by_id[order_id].energy_wh
    assert result.grid_fees == result.volume_wh * prm.grid_fee
    assert result.surplus >= 0
    if prm.mechanism != "mcafee":
        assert result.surplus == 0
    assert money(result, Side.BUY) == money(result, Side.SELL) + result.grid_fees + result.surplus


@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
@BOOKS
@given(data=st.data())
def test_every_mechanism_balances_and_respects_limits(mechanism: str, data: st.DataObject) -> None:
    """Energy bought = sold, no overfill, limits and bounds respected, money adds up."""
    book = data.draw(orders())
    prm = data.draw(params(mechanism=mechanism))
    check_invariants(book, prm, clear(book, prm))


@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_thousands_of_tiny_orders(mechanism: str, data: st.DataObject) -> None:
    """Books of up to 2,000 orders of 1-3 Wh keep every invariant."""
    book = data.draw(orders(max_size=2000, tiny=True))
    prm = data.draw(params(mechanism=mechanism))
    check_invariants(book, prm, clear(book, prm))


@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
@BOOKS
@given(data=st.data(), seed=st.integers(min_value=0, max_value=2**32))
def test_result_ignores_arrival_order(mechanism: str, data: st.DataObject, seed: int) -> None:
    """Any permutation of the orders gives the same result, down to the hashed bytes."""
    book = data.draw(orders())
    prm = data.draw(params(mechanism=mechanism))
    shuffled = list(book)
    random.Random(seed).shuffle(shuffled)
    first, second = clear(book, prm), clear(shuffled, prm)
    assert first == second
    assert first.to_canonical_json() == second.to_canonical_json()


@pytest.mark.parametrize("mechanism", ["uniform", "pay_as_bid", "midpoint"])
@BOOKS
@given(data=st.data())
def test_efficient_mechanisms_trade_the_maximum_crossing_volume(
    mechanism: str, data: st.DataObject
) -> None:
    """uniform (and the pairwise mechanisms) match the largest volume any price clears."""
    book = data.draw(orders())
    prm = data.draw(params(mechanism=mechanism))
    assert clear(book, prm).volume_wh == max_crossing_volume(book, prm)


@BOOKS
@given(book=orders(), prm=params(mechanism="mcafee"))
def test_mcafee_gives_up_at_most_the_marginal_orders(
    book: list[Order], prm: ClearingParams
) -> None:
    """Trade reduction loses at most the larger marginal order's energy, never more."""
    best = max_crossing_volume(book, prm)
    volume = clear(book, prm).volume_wh
    largest = max((order.energy_wh for order in book), default=0)
    assert best - largest <= volume <= best


@BOOKS
@given(book=orders(), prm=params(mechanism="uniform"))
def test_uniform_fills_better_levels_first_and_shares_the_margin_pro_rata(
    book: list[Order], prm: ClearingParams
) -> None:
    """Orders better than the marginal level fill completely, worse ones not at all,
    and the marginal level is shared within 1 Wh of the exact proportional share."""
    result = clear(book, prm)
    traded = result.fills_by_order()
    for side, limit in ((Side.BUY, effective_bid), (Side.SELL, effective_ask)):
        sign = 1 if side is Side.BUY else -1
        side_orders = [order for order in book if order.side is side]
        traded_prices = [sign * limit(order, prm) for order in side_orders if order.id in traded]
        if not traded_prices:
            assert result.volume_wh == 0
            continue
        margin = min(traded_prices)
        at_margin = [order for order in side_orders if sign * limit(order, prm) == margin]
        for order in side_orders:
            key = sign * limit(order, prm)
            if key > margin:
                assert traded.get(order.id) == order.energy_wh
            elif key < margin:
                assert order.id not in traded
        offered = sum(order.energy_wh for order in at_margin)
        taken = sum(traded.get(order.id, 0) for order in at_margin)
        for order in at_margin:
            exact = taken * order.energy_wh / offered
            assert abs(traded.get(order.id, 0) - exact) < 1


@BOOKS
@given(book=orders(), prm=params(mechanism="uniform"))
def test_uniform_price_lies_between_marginal_ask_and_bid(
    book: list[Order], prm: ClearingParams
) -> None:
    """One price for every buyer, p = s + kappa*(b - s) to the nearest tick."""
    result = clear(book, prm)
    if result.price is None:
        assert result.volume_wh == 0
        return
    traded = result.fills_by_order()
    bid = min(effective_bid(o, prm) for o in book if o.id in traded and o.side is Side.BUY)
    ask = max(effective_ask(o, prm) for o in book if o.id in traded and o.side is Side.SELL)
    exact = ask + prm.k_num * (bid - ask) / prm.k_den
    assert abs(result.price - exact) <= 0.5
    assert ask <= result.price <= bid
    for fill in result.fills:
        expected = result.price if fill.side is Side.BUY else result.price - prm.grid_fee
        assert fill.price == expected
