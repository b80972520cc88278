"""McAfee trade reduction: truthful, individually rational, and it reports its surplus."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from market.auction import ClearingParams, clear
from market.model import Order, Side
from tests.market.auction_books import make_order, orders, params

MCAFEE = ClearingParams(mechanism="mcafee")


def utility(order: Order, true_limit: int, book: list[Order], prm: ClearingParams) -> int:
    """The order's gain in Wh*ticks, valued at its true limit, when `book` clears."""
    fills = [fill for fill in clear(book, prm).fills if fill.order_id == order.id]
    if order.side is Side.BUY:
        return sum(fill.energy_wh * (true_limit - fill.price) for fill in fills)
    return sum(fill.energy_wh * (fill.price - true_limit) for fill in fills)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_single_trader_gains_by_misstating_its_limit(data: st.DataObject) -> None:
    """For a random order of a random book, no other reported limit beats the truth."""
    book = data.draw(orders(max_size=14).filter(bool))
    prm = data.draw(params(mechanism="mcafee"))
    liar = data.draw(st.sampled_from(book))
    truthful = utility(liar, liar.price, book, prm)
    others = {order.price for order in book}
    candidates = {0, 3000, prm.floor, prm.ceiling or 0} | others
    candidates |= {p + 1 for p in others} | {max(0, p - 1) for p in others}
    candidates |= {p - prm.grid_fee for p in others if p >= prm.grid_fee}
    candidates.add(data.draw(st.integers(min_value=0, max_value=3000)))
    for report in sorted(candidates - {liar.price}):
        lie = replace(liar, price=report)
        misreported = [lie if order.id == liar.id else order for order in book]
        assert utility(lie, liar.price, misreported, prm) <= truthful, report


def test_trade_reduction_excludes_the_marginal_pair_and_keeps_the_spread() -> None:
    """Four unit traders: the fourth pair is excluded; buyers pay b4, sellers get s4."""
    book = [
        make_order("b1", Side.BUY, 1000, 1900),
        make_order("b2", Side.BUY, 1000, 1700),
        make_order("b3", Side.BUY, 1000, 1500),
        make_order("b4", Side.BUY, 1000, 1300),
        make_order("s1", Side.SELL, 1000, 500),
        make_order("s2", Side.SELL, 1000, 700),
        make_order("s3", Side.SELL, 1000, 900),
        make_order("s4", Side.SELL, 1000, 1100),
    ]
    result = clear(book, MCAFEE)
    assert result.volume_wh == 3000
    assert result.price == 1300
    assert {f.order_id: f.price for f in result.fills} == {
        "b1": 1300,
        "b2": 1300,
        "b3": 1300,
        "s1": 1100,
        "s2": 1100,
        "s3": 1100,
    }
    assert result.surplus == 3000 * (1300 - 1100)


def test_longer_side_is_rationed_pro_rata_by_energy_not_price() -> None:
    """Sellers before the marginal one offer more than buyers take: shared by energy."""
    book = [
        make_order("b1", Side.BUY, 3000, 1900),
        make_order("b2", Side.BUY, 1000, 1500),
        make_order("s1", Side.SELL, 2000, 500),
        make_order("s2", Side.SELL, 4000, 600),
        make_order("s3", Side.SELL, 1000, 1000),
    ]
    result = clear(book, MCAFEE)
    # The crossing volume is 4000 Wh: b2 holds its last Wh, s2 holds it on the ask side.
    # Only b1 (3000 Wh) and s1 (2000 Wh) remain, so b1 is cut to 2000 Wh.
    assert result.fills_by_order() == {"b1": 2000, "s1": 2000}
    assert result.price == 1500
    assert [f.price for f in result.fills if f.side is Side.SELL] == [600]
    assert result.surplus == 2000 * (1500 - 600)


def test_single_crossing_pair_trades_nothing() -> None:
    """With one buyer and one seller, both are marginal: McAfee gives up the trade."""
    book = [make_order("b", Side.BUY, 500, 1800), make_order("s", Side.SELL, 500, 800)]
    result = clear(book, MCAFEE)
    assert result.volume_wh == 0
    assert result.fills == ()
    assert result.price is None
