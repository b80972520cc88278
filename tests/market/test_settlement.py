"""Settlement by the collective self-consumption rule: capped, balanced, never worse,
from real clearing results."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.auction import MECHANISMS, clear
from market.auction.params import ClearingParams
from market.model import Fill, Order, Side
from market.settlement import (
    NO_TRADES,
    HouseholdSettlement,
    InvalidPositionError,
    SlotPosition,
    Trades,
    scale_down,
    settle_slot,
    trades_by_household,
)

RETAIL, FEED_IN = 1952, 400


def position(household: str, **fields: int) -> SlotPosition:
    values = {"import_wh": 0, "export_wh": 0, "buy_price": RETAIL, "sell_price": FEED_IN}
    values.update(fields)
    return SlotPosition(household=household, **values)


def by_id(result: tuple[HouseholdSettlement, ...]) -> dict[str, HouseholdSettlement]:
    return {settled.household: settled for settled in result}


def test_matching_trades_are_settled_at_the_fill_price() -> None:
    result = by_id(
        settle_slot(
            [
                position("a", import_wh=1000, traded_buy_wh=600, buy_amount=600 * 1000),
                position("b", export_wh=800, traded_sell_wh=600, sell_amount=600 * 1000),
            ]
        )
    )
    a, b = result["a"], result["b"]
    assert (a.local_bought_wh, a.grid_import_wh) == (600, 400)
    assert a.cost == 600 * 1000 + 400 * RETAIL
    assert a.baseline_cost == 1000 * RETAIL
    assert (b.local_sold_wh, b.grid_export_wh) == (600, 200)
    assert b.cost == -(600 * 1000) - 200 * FEED_IN
    assert b.savings == 600 * (1000 - FEED_IN)
    assert a.to_json_obj()["cost"] == a.cost
    assert b.to_json_obj()["baseline_cost"] == b.baseline_cost


def test_a_buyer_that_imported_less_than_it_bought_shrinks_the_sellers_side() -> None:
    # a bought 600 but the meter saw 300: only 300 is local; b and c share the cut
    # pro rata to what they sold (400 and 200 of 600).
    result = by_id(
        settle_slot(
            [
                position("a", import_wh=300, traded_buy_wh=600, buy_amount=600 * 900),
                position("b", export_wh=500, traded_sell_wh=400, sell_amount=400 * 900),
                position("c", export_wh=500, traded_sell_wh=200, sell_amount=200 * 900),
            ]
        )
    )
    assert result["a"].local_bought_wh == 300
    assert result["a"].local_paid == 300 * 900
    assert (result["b"].local_sold_wh, result["c"].local_sold_wh) == (200, 100)
    assert (result["b"].grid_export_wh, result["c"].grid_export_wh) == (300, 400)
    assert result["b"].local_received == 200 * 900


def test_a_seller_that_exported_less_than_it_sold_shrinks_the_buyers_side() -> None:
    result = by_id(
        settle_slot(
            [
                position("a", import_wh=500, traded_buy_wh=250, buy_amount=250 * 1500),
                position("b", import_wh=500, traded_buy_wh=250, buy_amount=250 * 1500),
                position("c", export_wh=101, traded_sell_wh=500, sell_amount=500 * 1500),
            ]
        )
    )
    # 101 Wh split between two equal buyers: 50 each, the odd Wh to the smaller id.
    assert (result["a"].local_bought_wh, result["b"].local_bought_wh) == (51, 50)
    assert result["c"].local_sold_wh == 101
    assert sum(s.local_paid for s in result.values()) == 101 * 1500
    assert result["c"].local_received == 101 * 1500


def test_a_household_without_a_reading_is_allocated_nothing() -> None:
    # b sold 500 but sent no reading: nothing proves it delivered, so a's purchase is
    # the grid's, and b is settled on nothing measured.
    result = by_id(
        settle_slot(
            [
                position("a", import_wh=800, traded_buy_wh=500, buy_amount=500 * 1000),
                SlotPosition(
                    household="b",
                    import_wh=0,
                    export_wh=0,
                    buy_price=RETAIL,
                    sell_price=FEED_IN,
                    traded_sell_wh=500,
                    sell_amount=500 * 1000,
                    measured=False,
                ),
            ]
        )
    )
    assert (result["a"].local_bought_wh, result["a"].grid_import_wh) == (0, 800)
    assert result["a"].cost == result["a"].baseline_cost == 800 * RETAIL
    assert not result["b"].measured
    assert (result["b"].local_sold_wh, result["b"].local_received) == (0, 0)
    with pytest.raises(InvalidPositionError):
        SlotPosition(
            household="c", import_wh=1, export_wh=0, buy_price=1, sell_price=0, measured=False
        )


def test_no_trade_is_the_grid_baseline() -> None:
    (settled,) = settle_slot([position("a", import_wh=700, export_wh=0)])
    assert settled.cost == settled.baseline_cost == 700 * RETAIL
    assert settled.savings == 0


def test_scale_down_gives_the_leftover_to_the_largest_remainders_then_smaller_ids() -> None:
    assert scale_down({"a": 1, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}
    assert scale_down({"a": 1, "b": 4}, 3) == {"a": 1, "b": 2}  # remainders 0.6 and 0.4
    assert scale_down({"a": 1, "b": 3}, 2) == {"a": 1, "b": 1}  # a tie goes to "a"
    assert scale_down({"a": 5}, 9) == {"a": 5}
    assert scale_down({}, 0) == {}


def test_trades_by_household_sums_fills_per_author() -> None:
    fills = [
        Fill("a1", Side.BUY, 100, 1000),
        Fill("a2", Side.BUY, 50, 1200),
        Fill("b1", Side.SELL, 150, 900),
    ]
    trades = trades_by_household(fills, {"a1": "a", "a2": "a", "b1": "b"})
    assert trades == {
        "a": Trades(traded_buy_wh=150, buy_amount=100 * 1000 + 50 * 1200),
        "b": Trades(traded_sell_wh=150, sell_amount=150 * 900),
    }
    built = SlotPosition.with_trades(
        "a", import_wh=150, export_wh=0, buy_price=RETAIL, sell_price=FEED_IN, trades=trades["a"]
    )
    assert (built.traded_buy_wh, built.buy_amount) == (150, 160_000)


@pytest.mark.parametrize(
    "fields",
    [
        {"import_wh": -1},
        {"buy_price": 1.5},
        {"buy_amount": 10},  # money without energy
        {"traded_sell_wh": True},
    ],
)
def test_invalid_positions_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidPositionError):
        position("a", **fields)  # type: ignore[arg-type]


def test_a_household_twice_in_one_slot_is_refused() -> None:
    with pytest.raises(InvalidPositionError):
        settle_slot([position("a"), position("a")])
    with pytest.raises(InvalidPositionError):
        SlotPosition(household="", import_wh=0, export_wh=0, buy_price=0, sell_price=0)


# ------------------------------------------------------------------ properties


@st.composite
def slots(draw: st.DrawFn, *, uniform: bool = False) -> list[SlotPosition]:
    """Random households whose fill prices lie between their feed-in and retail prices."""
    count = draw(st.integers(1, 6))
    prices = st.integers(0, 2500)
    price = draw(prices) if uniform else None
    positions = []
    for index in range(count):
        low, high = sorted((draw(prices), draw(prices)))
        if price is not None:
            low, high = min(low, price), max(high, price)

        def fills(low: int, high: int) -> tuple[int, int]:
            legs = draw(
                st.lists(st.tuples(st.integers(1, 3000), st.integers(low, high)), max_size=3)
            )
            if price is not None:
                legs = [(energy, price) for energy, _ in legs]
            return sum(e for e, _ in legs), sum(e * p for e, p in legs)

        bought, buy_amount = fills(0, high)
        sold, sell_amount = fills(low, 3000)
        positions.append(
            SlotPosition(
                household=f"h{index}",
                import_wh=draw(st.integers(0, 5000)),
                export_wh=draw(st.integers(0, 5000)),
                buy_price=high,
                sell_price=low,
                traded_buy_wh=bought,
                traded_sell_wh=sold,
                buy_amount=buy_amount,
                sell_amount=sell_amount,
            )
        )
    return positions


PROPERTIES = settings(max_examples=200, deadline=None)


@PROPERTIES
@given(slots())
def test_settlement_balances_conserves_and_leaves_no_one_worse_off(
    positions: list[SlotPosition],
) -> None:
    result = settle_slot(positions)
    inputs = {p.household: p for p in positions}
    assert [s.household for s in result] == sorted(inputs)
    assert sum(s.local_bought_wh for s in result) == sum(s.local_sold_wh for s in result)
    capped_buy = sum(min(p.traded_buy_wh, p.import_wh) for p in positions)
    capped_sell = sum(min(p.traded_sell_wh, p.export_wh) for p in positions)
    assert sum(s.local_bought_wh for s in result) == min(capped_buy, capped_sell)
    for settled in result:
        p = inputs[settled.household]
        assert settled.local_bought_wh + settled.grid_import_wh == p.import_wh
        assert settled.local_sold_wh + settled.grid_export_wh == p.export_wh
        assert 0 <= settled.local_bought_wh <= min(p.traded_buy_wh, p.import_wh)
        assert 0 <= settled.local_sold_wh <= min(p.traded_sell_wh, p.export_wh)
        assert settled.grid_paid == settled.grid_import_wh * p.buy_price
        assert settled.grid_received == settled.grid_export_wh * p.sell_price
        assert settled.baseline_cost == p.import_wh * p.buy_price - p.export_wh * p.sell_price
        assert settled.cost <= settled.baseline_cost, "nobody ends worse off than grid alone"


@PROPERTIES
@given(slots(), st.randoms(use_true_random=False))
def test_settlement_does_not_depend_on_input_order(
    positions: list[SlotPosition], rng: random.Random
) -> None:
    shuffled = positions[:]
    rng.shuffle(shuffled)
    assert settle_slot(shuffled) == settle_slot(positions)


@PROPERTIES
@given(slots(uniform=True))
def test_at_one_uniform_price_buyers_pay_exactly_what_sellers_receive(
    positions: list[SlotPosition],
) -> None:
    result = settle_slot(positions)
    assert sum(s.local_paid for s in result) == sum(s.local_received for s in result)


@PROPERTIES
@given(st.dictionaries(st.text("abc", min_size=1, max_size=3), st.integers(0, 10_000)), st.data())
def test_scale_down_sums_to_the_target_and_never_exceeds_a_share(
    shares: dict[str, int], data: st.DataObject
) -> None:
    total = data.draw(st.integers(0, sum(shares.values())))
    scaled = scale_down(shares, total)
    assert sum(scaled.values()) == total
    current = sum(shares.values())
    for household, share in shares.items():
        assert share * total // max(1, current) <= scaled[household] <= share


@st.composite
def cleared_slots(draw: st.DrawFn) -> tuple[str, int, list[Fill], list[SlotPosition]]:
    """A real auction's result over households whose agents kept to their own grid
    prices (bids at most the current import price, asks at least the feed-in), and the
    households' readings, some missing."""
    mechanism = draw(st.sampled_from(sorted(MECHANISMS)))
    fee = draw(st.integers(0, 200))
    count = draw(st.integers(2, 6))
    orders: list[Order] = []
    tariffs: dict[str, tuple[int, int]] = {}
    for index in range(count):
        household = f"h{index}"
        feed_in = draw(st.integers(0, 1500))
        retail = draw(st.integers(feed_in, 3000))
        tariffs[household] = (retail, feed_in)
        for number, side in enumerate(draw(st.lists(st.sampled_from(Side), max_size=2))):
            low, high = (0, retail) if side is Side.BUY else (feed_in, 3000)
            orders.append(
                Order(
                    id=f"{household}-{number}",
                    author=household,
                    slot=0,
                    side=side,
                    energy_wh=draw(st.integers(1, 3000)),
                    price=draw(st.integers(low, high)),
                )
            )
    result = clear(orders, ClearingParams(mechanism=mechanism, grid_fee=fee))
    owner = {order.id: order.author for order in orders}
    trades = trades_by_household(result.fills, owner)
    positions = []
    for household, (retail, feed_in) in tariffs.items():
        measured = draw(st.integers(0, 4)) > 0
        positions.append(
            SlotPosition.with_trades(
                household,
                import_wh=draw(st.integers(0, 4000)) if measured else 0,
                export_wh=draw(st.integers(0, 4000)) if measured else 0,
                buy_price=retail,
                sell_price=feed_in,
                trades=trades.get(household, NO_TRADES),
                measured=measured,
            )
        )
    return mechanism, result.grid_fees + result.surplus, list(result.fills), positions


@PROPERTIES
@given(cleared_slots())
def test_a_real_clearing_settles_within_the_meters_and_leaves_no_one_worse_off(
    case: tuple[str, int, list[Fill], list[SlotPosition]],
) -> None:
    mechanism, kept, fills, positions = case
    result = settle_slot(positions)
    volume = sum(fill.energy_wh for fill in fills if fill.side is Side.BUY)
    allocated = sum(s.local_bought_wh for s in result)
    assert allocated == sum(s.local_sold_wh for s in result) <= volume
    inputs = {p.household: p for p in positions}
    for settled in result:
        p = inputs[settled.household]
        assert settled.local_bought_wh <= p.import_wh and settled.local_sold_wh <= p.export_wh
        assert settled.local_paid <= p.buy_amount and settled.local_received <= p.sell_amount
        assert settled.savings >= 0, f"{settled.household} lost against the grid alone"
    paid = sum(s.local_paid for s in result)
    received = sum(s.local_received for s in result)
    if mechanism in {"uniform", "mcafee"}:
        # One price per side: what buyers pay beyond what sellers get is exactly the
        # grid fee and the mechanism's surplus on the energy allocated.
        assert (paid - received) * volume == kept * allocated
