"""Market terms, household limits and the integer price ramp."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.agents import (
    HouseholdLimits,
    InvalidRampError,
    NegativeValueError,
    PriceRamp,
    ask_bounds,
    bid_bounds,
)
from market.terms import CommunityTerms, InvalidCommunityTermsError
from tests.market.test_agents_support import MIDNIGHT, TERMS, household_limits, market_terms

ramps = st.integers(1, 12).flatmap(
    lambda levels: st.builds(
        PriceRamp, duration_s=st.integers(levels, 7200), levels=st.just(levels)
    )
)


def test_slot_clock_of_default_terms() -> None:
    now = MIDNIGHT + 10 * 60  # 00:10, gate of 00:15 closed at 00:10
    assert TERMS.slot_of(now) == MIDNIGHT
    assert TERMS.gate_closure(MIDNIGHT + 900) == MIDNIGHT + 600
    assert not TERMS.is_open(MIDNIGHT + 900, now)
    assert TERMS.is_open(MIDNIGHT + 1800, now)
    assert TERMS.open_slots(now, 3) == (MIDNIGHT + 1800, MIDNIGHT + 2700, MIDNIGHT + 3600)
    assert TERMS.open_slots(now - 1, 1) == (MIDNIGHT + 900,)


@given(terms=market_terms(), now=st.integers(0, 4_000_000_000))
def test_first_open_slot_is_the_earliest_open_one(terms: CommunityTerms, now: int) -> None:
    first = terms.first_open_slot(now)
    assert first % terms.slot_s == 0
    assert terms.is_open(first, now)
    assert not terms.is_open(first - terms.slot_s, now)


@pytest.mark.parametrize(
    ("kwargs", "offending"),
    [
        ({"floor": 2000, "ceiling": 1000}, "ceiling: an integer in [2000, "),
        ({"floor": 0, "ceiling": 1000, "slot_s": 0}, "slot_s: an integer in [60, 86400] (got 0)"),
        ({"floor": -1, "ceiling": 1000}, "floor: an integer in [0, "),
        ({"floor": 0, "ceiling": 1000, "grid_fee": 0.5}, "(got 0.5)"),
        ({"floor": 0, "ceiling": True}, "(got True)"),
    ],
)
def test_bad_terms_are_refused_with_the_value(kwargs: dict[str, object], offending: str) -> None:
    with pytest.raises(InvalidCommunityTermsError, match=re.escape(offending)):
        CommunityTerms(**kwargs)  # type: ignore[arg-type]


def test_bad_limits_and_ramps_are_refused() -> None:
    with pytest.raises(NegativeValueError, match="max_import_w"):
        HouseholdLimits(max_buy_price=1, min_sell_price=1, max_import_w=-5, max_export_w=1)
    with pytest.raises(InvalidRampError):
        PriceRamp(duration_s=0)
    with pytest.raises(InvalidRampError):
        PriceRamp(levels=0)
    with pytest.raises(InvalidRampError):
        PriceRamp(duration_s=2, levels=3)


def test_terms_follow_the_auction_parameters() -> None:
    terms = CommunityTerms(floor=400, ceiling=1952, grid_fee=100, slot_s=1800)
    params = terms.clearing_params()
    assert (params.floor, params.ceiling, params.grid_fee) == (400, 1952, 100)
    nobody = HouseholdLimits(max_buy_price=9999, min_sell_price=0, max_import_w=0, max_export_w=0)
    # An ask above 1852 would reach the buyers above the ceiling once the fee is added.
    assert ask_bounds(terms, nobody, 0) == (1852, 400)
    assert bid_bounds(terms, nobody, 9999, 0) == (500, 1952)


def test_default_ramp_is_three_levels_over_the_last_half_hour() -> None:
    ramp = PriceRamp()
    gate = MIDNIGHT
    prices = [
        ramp.price(1852, 400, gate - before, gate)
        for before in (3600, 1800, 1201, 1200, 601, 600, 1)
    ]
    assert prices == [1852, 1852, 1852, 1126, 1126, 400, 400]


@given(
    ramp=ramps,
    start=st.integers(0, 10_000),
    end=st.integers(0, 10_000),
    gate=st.integers(0, 10**9),
    times=st.lists(st.integers(-10_000, 10), min_size=2, max_size=20),
)
def test_ramp_is_monotone_integer_and_between_its_ends(
    ramp: PriceRamp, start: int, end: int, gate: int, times: list[int]
) -> None:
    prices = [ramp.price(start, end, gate + offset, gate) for offset in sorted(times)]
    assert all(type(price) is int for price in prices)
    assert all(min(start, end) <= price <= max(start, end) for price in prices)
    pairs = list(pairwise(prices))
    if start >= end:
        assert all(later <= earlier for earlier, later in pairs)
    else:
        assert all(later >= earlier for earlier, later in pairs)
    assert ramp.price(start, end, gate - 1, gate) == end
    assert ramp.price(start, end, gate - ramp.duration_s, gate) == (
        end if ramp.levels == 1 else start
    )


@given(terms=market_terms(), limits=household_limits, own=st.integers(0, 6000))
def test_bounds_respect_floor_ceiling_and_household(
    terms: CommunityTerms, limits: HouseholdLimits, own: int
) -> None:
    ask_start, ask_end = ask_bounds(terms, limits, 0)
    assert ask_end >= terms.floor
    assert ask_end >= limits.min_sell_price
    assert ask_start >= ask_end
    bid_start, bid_end = bid_bounds(terms, limits, own, 0)
    assert bid_end <= min(terms.ceiling, limits.max_buy_price, own)
    assert bid_start <= bid_end
