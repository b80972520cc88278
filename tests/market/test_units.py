"""The engine's units: integer Wh and ticks inside, floats for people at the edges."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from market.ledger.kinds import MAX_ENERGY_WH, MAX_PRICE_TICKS
from market.units import (
    SECONDS_PER_HOUR,
    TICKS_PER_UNIT,
    WH_TICKS_PER_UNIT,
    energy_wh,
    to_kwh,
    to_money,
    to_price,
    to_ticks,
    to_wh,
)

ticks = st.integers(0, MAX_PRICE_TICKS)
watt_hours = st.integers(0, MAX_ENERGY_WH)


def test_scales() -> None:
    assert TICKS_PER_UNIT == 10_000
    assert WH_TICKS_PER_UNIT == 10_000_000
    assert to_price(1952) == 0.1952
    assert to_ticks(0.1952) == 1952
    assert to_wh(2.5) == 2500
    assert to_kwh(2500) == 2.5
    assert to_money(1000 * 1952) == 0.1952


@given(ticks)
def test_ticks_survive_a_display_round_trip(price: int) -> None:
    assert to_ticks(to_price(price)) == price


@given(watt_hours)
def test_wh_survive_a_display_round_trip(energy: int) -> None:
    assert to_wh(to_kwh(energy)) == energy


@given(st.floats(0, 100_000, allow_nan=False))
def test_a_typed_price_goes_to_the_nearest_tick(price: float) -> None:
    assert abs(to_price(to_ticks(price)) - price) <= 0.5 / TICKS_PER_UNIT + 1e-9
    assert type(to_ticks(price)) is int


@given(watt_hours, st.integers(0, 100_000))
def test_money_is_energy_times_price(energy: int, price: int) -> None:
    assert math.isclose(to_money(energy * price), to_kwh(energy) * to_price(price))


@given(st.integers(0, 100_000), st.integers(0, 7 * 86_400))
def test_energy_is_rounded_down(power_w: int, duration_s: int) -> None:
    wh = energy_wh(power_w, duration_s)
    assert wh * SECONDS_PER_HOUR <= power_w * duration_s < (wh + 1) * SECONDS_PER_HOUR
    assert energy_wh(power_w, SECONDS_PER_HOUR) == power_w
