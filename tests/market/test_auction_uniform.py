"""uniform: the k-double auction's price, rounding, tie and pro rata rules on known books."""

from __future__ import annotations

import pytest

from market.auction import ClearingParams, clear
from market.auction.allocation import kappa_price, pro_rata
from market.model import Order, Side
from tests.market.auction_books import MECHANISM_NAMES, make_order

DOC_BOOK = [
    make_order("b1", Side.BUY, 1500, 1800),
    make_order("b2", Side.BUY, 1000, 1200),
    make_order("b3", Side.BUY, 800, 900),
    make_order("s1", Side.SELL, 2000, 300),
    make_order("s2", Side.SELL, 1000, 1000),
]
DOC_PARAMS = ClearingParams(floor=400, ceiling=1952)


def test_worked_example_of_the_docs() -> None:
    """The example of docs/market.md: 2500 Wh cross, p = 1000 + (1200 - 1000)/2."""
    result = clear(DOC_BOOK, DOC_PARAMS)
    assert result.price == 1100
    assert result.volume_wh == 2500
    assert [(f.order_id, f.energy_wh, f.price) for f in result.fills] == [
        ("b1", 1500, 1100),
        ("b2", 1000, 1100),
        ("s1", 2000, 1100),
        ("s2", 500, 1100),
    ]


@pytest.mark.parametrize(
    ("k_num", "k_den", "price"),
    [(0, 1, 1000), (1, 1, 1200), (1, 2, 1100), (1, 3, 1067), (2, 3, 1133), (1, 4, 1050)],
)
def test_kappa_moves_the_price_from_the_ask_to_the_bid(k_num: int, k_den: int, price: int) -> None:
    """kappa = 0 gives sellers their ask, 1 gives buyers their bid, others lie between."""
    prm = ClearingParams(k_num=k_num, k_den=k_den, floor=400, ceiling=1952)
    assert clear(DOC_BOOK, prm).price == price


def test_half_ticks_round_towards_the_ask() -> None:
    """An exact half tick goes to the buyer; anything else rounds to the nearest tick."""
    assert kappa_price(1000, 1001, 1, 2) == 1000
    assert kappa_price(1000, 1003, 1, 2) == 1001
    assert kappa_price(1000, 1002, 1, 3) == 1001
    assert kappa_price(1000, 1001, 1, 3) == 1000


def test_bid_above_ceiling_bids_the_ceiling_and_ask_below_floor_asks_the_floor() -> None:
    """Bounds clip the limits, and so the price: p = 1500 + (1952 - 1500)/2."""
    book = [make_order("b", Side.BUY, 100, 5000), make_order("s", Side.SELL, 100, 1500)]
    assert clear(book, ClearingParams(floor=400, ceiling=1952)).price == 1726
    book = [make_order("b", Side.BUY, 100, 800), make_order("s", Side.SELL, 100, 0)]
    assert clear(book, ClearingParams(floor=400, ceiling=1952)).price == 600


def test_a_bid_below_the_floor_never_trades() -> None:
    """Sellers never get less than the feed-in price, so a cheaper bid finds no one."""
    book = [make_order("b", Side.BUY, 100, 300), make_order("s", Side.SELL, 100, 0)]
    result = clear(book, ClearingParams(floor=400))
    assert (result.volume_wh, result.fills, result.price) == (0, (), None)


def test_grid_fee_is_added_to_asks_and_kept_from_sellers() -> None:
    """With a 100-tick fee the ask counts as 1100; sellers receive the price minus the fee."""
    book = [make_order("b", Side.BUY, 1000, 1500), make_order("s", Side.SELL, 1000, 1000)]
    result = clear(book, ClearingParams(grid_fee=100))
    assert result.price == 1300
    assert {f.order_id: f.price for f in result.fills} == {"b": 1300, "s": 1200}
    assert result.grid_fees == 1000 * 100
    fee_eats_spread = clear(book, ClearingParams(grid_fee=600))
    assert fee_eats_spread.volume_wh == 0


def test_marginal_level_is_shared_pro_rata_with_remainders_by_largest_fraction_then_id() -> None:
    """10 Wh of supply meet three equal 5 Wh bids: 3.33 each, the spare Wh to the first id."""
    book = [
        make_order("z", Side.BUY, 5, 1500),
        make_order("a", Side.BUY, 5, 1500),
        make_order("m", Side.BUY, 5, 1500),
        make_order("s", Side.SELL, 10, 1000),
    ]
    assert clear(book).fills_by_order() == {"a": 4, "m": 3, "z": 3, "s": 10}


def test_pro_rata_gives_spare_wh_to_the_largest_fractions_first() -> None:
    """7 Wh over shares of 2, 3 and 5: exact 1.4, 2.1, 3.5 -> 1, 2, 4 (largest fraction .5)."""
    assert pro_rata(7, [("a", 2), ("b", 3), ("c", 5)]) == [1, 2, 4]
    assert pro_rata(10, [("a", 2), ("b", 3), ("c", 5)]) == [2, 3, 5]
    assert pro_rata(0, [("a", 2)]) == [0]


def test_better_levels_fill_before_the_margin() -> None:
    """The highest bid fills completely before the next level gets anything."""
    book = [
        make_order("hi", Side.BUY, 600, 1900),
        make_order("lo1", Side.BUY, 600, 1500),
        make_order("lo2", Side.BUY, 200, 1500),
        make_order("s", Side.SELL, 1000, 900),
    ]
    assert clear(book).fills_by_order() == {"hi": 600, "lo1": 300, "lo2": 100, "s": 1000}


@pytest.mark.parametrize(
    "book",
    [
        [],
        [make_order("b", Side.BUY, 10, 1000)],
        [make_order("s", Side.SELL, 10, 1000)],
        [make_order("b", Side.BUY, 10, 999), make_order("s", Side.SELL, 10, 1000)],
    ],
    ids=["empty", "only-bids", "only-asks", "no-crossing"],
)
@pytest.mark.parametrize("mechanism", MECHANISM_NAMES)
def test_books_without_a_crossing_trade_nothing(book: list[Order], mechanism: str) -> None:
    """No crossing: no price, no volume, no fills, for every mechanism."""
    result = clear(book, ClearingParams(mechanism=mechanism))
    assert (result.price, result.volume_wh, result.fills) == (None, 0, ())


def test_one_huge_order_against_many_small_ones() -> None:
    """A 1 GWh ask is only partially sold, and integers do not overflow."""
    book = [make_order("big", Side.SELL, 10**12, 500)]
    book += [make_order(f"b{i:03}", Side.BUY, 1 + i, 1000 + i) for i in range(200)]
    result = clear(book)
    assert result.volume_wh == sum(1 + i for i in range(200))
    assert result.fills_by_order()["big"] == result.volume_wh
    assert result.price == 500 + (1000 - 500) // 2
