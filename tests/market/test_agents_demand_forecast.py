"""The demand forecast learned from a household's own readings: what it will import in
a coming slot, by local time of day and weekday or weekend, with a fallback for a new
household."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.agents import (
    DemandForecaster,
    InvalidForecastSettingError,
    NegativeValueError,
    NonIntegerValueError,
)
from market.localtime import local_time_utc

SLOT_S = 900
MONDAY = date(2025, 11, 24)  # winter time in Paris (UTC+1)
EVENING = 19 * 3600  # 19:00 local


def _at(day: date, seconds_of_day: int) -> int:
    return local_time_utc(day, seconds_of_day)


def test_a_slot_is_expected_to_draw_what_it_drew_on_the_last_days_of_its_kind() -> None:
    forecaster = DemandForecaster(SLOT_S)
    # Three weeks of evenings: 800 Wh on weekdays (one 2 kWh outlier), 300 at weekends.
    for day in (MONDAY + timedelta(days=n) for n in range(21)):
        weekend = day.weekday() >= 5
        import_wh = 300 if weekend else (2000 if day.day == 26 else 800)
        forecaster.learn(_at(day, EVENING), import_wh)
    next_monday = MONDAY + timedelta(days=21)
    saturday = MONDAY + timedelta(days=26)
    assert forecaster.expected_wh(_at(next_monday, EVENING)) == 800  # the outlier is not
    assert forecaster.expected_wh(_at(saturday, EVENING)) == 300
    # The same slot of day by the wall clock: 19:00 in summer is another UTC hour.
    summer = date(2026, 4, 6)  # a Monday, UTC+2
    forecaster.learn(_at(date(2026, 4, 3), EVENING), 650)  # the Friday before
    assert forecaster.expected_wh(_at(summer, EVENING)) == 650


def test_a_new_household_is_guessed_from_the_other_days_then_from_its_last_hours() -> None:
    forecaster = DemandForecaster(SLOT_S, recent_s=7200)
    assert forecaster.expected_wh(_at(MONDAY, EVENING)) is None  # nothing to go by: no bid
    # Its first afternoon: 400 Wh a slot from 15:00 to 17:00.
    for index in range(8):
        forecaster.learn(_at(MONDAY, 15 * 3600 + index * SLOT_S), 400)
    assert forecaster.expected_wh(_at(MONDAY, 17 * 3600)) == 400  # the last hours persist
    assert forecaster.expected_wh(_at(MONDAY, 19 * 3600 + 1800)) is None  # 2.5 h later: no
    # Friday's evening stands for Saturday's until a Saturday evening was seen.
    friday, saturday = MONDAY + timedelta(days=4), MONDAY + timedelta(days=5)
    forecaster.learn(_at(friday, EVENING), 900)
    assert forecaster.expected_wh(_at(saturday, EVENING)) == 900
    forecaster.learn(_at(saturday, EVENING), 250)
    assert forecaster.expected_wh(_at(saturday + timedelta(days=1), EVENING)) == 250


def test_readings_older_than_its_weeks_or_not_before_the_slot_do_not_count() -> None:
    forecaster = DemandForecaster(SLOT_S, weeks=2, recent_s=0)
    forecaster.learn(_at(MONDAY, EVENING), 700)
    assert forecaster.expected_wh(_at(MONDAY + timedelta(days=14), EVENING)) == 700
    assert forecaster.expected_wh(_at(MONDAY + timedelta(days=15), EVENING)) is None
    assert forecaster.expected_wh(_at(MONDAY, EVENING)) is None  # its own slot is not a past
    # A slot learned twice keeps its first reading (a node signs one per slot).
    forecaster.learn(_at(MONDAY, EVENING), 5000)
    assert forecaster.expected_wh(_at(MONDAY + timedelta(days=1), EVENING)) == 700


def test_memory_stays_bounded_however_long_it_learns() -> None:
    forecaster = DemandForecaster(SLOT_S, weeks=4, recent_s=7200)
    start = _at(MONDAY, 0)
    for slot in range(start, start + 365 * 86_400, SLOT_S):
        forecaster.learn(slot, 100 + slot % 7)
    assert len(forecaster) <= 7 * 4 * 96 + 8
    assert forecaster.history_slots == 4 * 7 * 96


def test_bad_values_are_refused() -> None:
    with pytest.raises(InvalidForecastSettingError):
        DemandForecaster(0)
    with pytest.raises(InvalidForecastSettingError):
        DemandForecaster(SLOT_S, weeks=0)
    forecaster = DemandForecaster(SLOT_S)
    with pytest.raises(NegativeValueError):
        forecaster.learn(_at(MONDAY, 0), -1)
    with pytest.raises(NonIntegerValueError):
        forecaster.learn(_at(MONDAY, 0), 1.5)  # type: ignore[arg-type]
    with pytest.raises(NonIntegerValueError):
        forecaster.expected_wh(float(_at(MONDAY, 0)))  # type: ignore[arg-type]


_START = _at(MONDAY, 0)


@given(
    st.dictionaries(
        st.integers(0, 30 * 96).map(lambda n: _START + n * SLOT_S),
        st.integers(0, 10_000),
        max_size=200,
    ),
    st.lists(st.integers(0, 40 * 96).map(lambda n: _START + n * SLOT_S), max_size=20),
    st.sampled_from((1, 2, 4)),
    st.randoms(use_true_random=False),
)
def test_a_forecast_is_an_observed_value_whatever_the_order_learned(
    readings: dict[int, int], slots: list[int], weeks: int, rng: random.Random
) -> None:
    """Never negative, never above the largest reading, and the same forecast for the
    same readings learned in any order."""
    forward = DemandForecaster(SLOT_S, weeks=weeks)
    shuffled = DemandForecaster(SLOT_S, weeks=weeks)
    items = sorted(readings.items())
    for slot, import_wh in items:
        forward.learn(slot, import_wh)
    rng.shuffle(items)
    for slot, import_wh in items:
        shuffled.learn(slot, import_wh)
    largest = max(readings.values(), default=0)
    guesses = forward.forecast(slots)
    assert guesses == shuffled.forecast(slots)
    for slot, guess in guesses.items():
        assert 0 <= guess <= largest
        assert any(at < slot for at in readings)  # only what came before the slot
