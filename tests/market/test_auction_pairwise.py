"""pay_as_bid and midpoint: highest bid meets cheapest ask, each pair at its own price."""

from __future__ import annotations

from market.auction import ClearingParams, clear
from market.model import Side
from tests.market.auction_books import make_order

BOOK = [
    make_order("b1", Side.BUY, 1500, 1800),
    make_order("b2", Side.BUY, 1000, 1200),
    make_order("s1", Side.SELL, 2000, 500),
    make_order("s2", Side.SELL, 1000, 1001),
]


def rows(mechanism: str, **kwargs: int) -> list[tuple[str, int, int]]:
    """(id, energy, price) of each fill."""
    result = clear(BOOK, ClearingParams(mechanism=mechanism, **kwargs))
    assert result.price is None
    return [(f.order_id, f.energy_wh, f.price) for f in result.fills]


def test_pay_as_bid_prices_every_pair_at_the_bid() -> None:
    """b1 meets s1 (1500 Wh at 1800); b2 meets the rest of s1, then s2, at 1200."""
    assert rows("pay_as_bid") == [
        ("b1", 1500, 1800),
        ("b2", 1000, 1200),
        ("s1", 500, 1200),
        ("s1", 1500, 1800),
        ("s2", 500, 1200),
    ]


def test_midpoint_prices_every_pair_halfway_rounding_half_ticks_to_the_buyer() -> None:
    """(1800+500)/2 = 1150, (1200+500)/2 = 850, (1200+1001)/2 = 1100.5 -> 1100."""
    assert rows("midpoint") == [
        ("b1", 1500, 1150),
        ("b2", 500, 850),
        ("b2", 500, 1100),
        ("s1", 500, 850),
        ("s1", 1500, 1150),
        ("s2", 500, 1100),
    ]


def test_grid_fee_raises_asks_and_is_kept_from_sellers_in_pairs() -> None:
    """Ask 500 + fee 100 counts as 600; the pair's midpoint with 1800 is 1200."""
    fills = rows("midpoint", grid_fee=100)
    assert ("b1", 1500, 1200) in fills
    assert ("s1", 1500, 1100) in fills


def test_equal_limits_meet_counter_orders_in_id_order() -> None:
    """Two bids at one price: the smaller id meets the cheaper ask first, whatever arrives first."""
    book = [
        make_order("y", Side.BUY, 100, 1500),
        make_order("x", Side.BUY, 100, 1500),
        make_order("s-cheap", Side.SELL, 100, 500),
        make_order("s-dear", Side.SELL, 100, 1000),
    ]
    for arrival in (book, book[::-1]):
        result = clear(arrival, ClearingParams(mechanism="midpoint"))
        prices = {f.order_id: f.price for f in result.fills if f.side is Side.BUY}
        assert prices == {"x": 1000, "y": 1250}
