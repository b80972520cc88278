"""Household base load: yearly totals by type, daily rhythm, seasons, determinism."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from market.localtime import (
    SECONDS_PER_DAY,
    STEP_S,
    day_number,
    local_day_number,
    local_midnight_utc,
    local_time_utc,
)
from market.sim.household import Household
from market.sim.load import LOAD_PROFILES, HouseholdKind, load_day_table
from market.sim.site import DEFAULT_SITE

YEAR_2025 = range(day_number(date(2025, 1, 1)), day_number(date(2026, 1, 1)))


def kwh(table: tuple[int, ...]) -> float:
    return sum(table) * STEP_S / 3_600_000


def yearly_kwh(kind: HouseholdKind, seed: int) -> float:
    return sum(kwh(load_day_table(LOAD_PROFILES[kind], seed, DEFAULT_SITE, d)) for d in YEAR_2025)


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [
        (HouseholdKind.APARTMENT, 2_000, 3_000),
        (HouseholdKind.APARTMENT_ELECTRIC_HEATING, 5_000, 7_000),
        (HouseholdKind.FAMILY_HOUSE, 4_800, 6_500),
        (HouseholdKind.HOUSE_ELECTRIC_HEATING, 9_500, 12_500),
        (HouseholdKind.RETIRED_COUPLE, 3_500, 5_000),
    ],
)
def test_yearly_consumption_is_in_the_documented_range(
    kind: HouseholdKind, low: int, high: int
) -> None:
    assert low <= yearly_kwh(kind, seed=1) <= high


def mean_w(kind: HouseholdKind, days: range, hours: range, *, weekend: bool | None = None) -> float:
    """Mean power over the given local hours of the given days, over 3 households."""
    values = []
    for seed in range(3):
        for d in days:
            is_weekend = date.fromordinal(date(1970, 1, 1).toordinal() + d).weekday() >= 5
            if weekend is not None and is_weekend != weekend:
                continue
            table = load_day_table(LOAD_PROFILES[kind], seed, DEFAULT_SITE, d)
            values.extend(table[h * 12 + k] for h in hours for k in range(12))
    return sum(values) / len(values)


APRIL = range(day_number(date(2025, 4, 1)), day_number(date(2025, 5, 1)))


def test_the_evening_peak_dwarfs_the_night() -> None:
    evening = mean_w(HouseholdKind.APARTMENT, APRIL, range(19, 21))
    night = mean_w(HouseholdKind.APARTMENT, APRIL, range(2, 5))
    morning = mean_w(HouseholdKind.APARTMENT, APRIL, range(7, 8))
    assert evening > 3 * night
    assert morning > 2 * night


def test_working_households_are_out_on_weekday_middays_but_not_at_weekends() -> None:
    weekday = mean_w(HouseholdKind.APARTMENT, APRIL, range(10, 16), weekend=False)
    weekend = mean_w(HouseholdKind.APARTMENT, APRIL, range(10, 16), weekend=True)
    assert weekend > 1.3 * weekday


def test_the_off_peak_water_heater_runs_at_night() -> None:
    late = mean_w(HouseholdKind.FAMILY_HOUSE, APRIL, range(23, 24))
    early = mean_w(HouseholdKind.FAMILY_HOUSE, APRIL, range(3, 5))
    assert late > early + 1_000


def test_electric_heating_makes_winter_much_heavier() -> None:
    def month_kwh(kind: HouseholdKind, month: int) -> float:
        first = date(2025, month, 1)
        days = range(day_number(first), day_number(first) + 28)
        return sum(kwh(load_day_table(LOAD_PROFILES[kind], 2, DEFAULT_SITE, d)) for d in days)

    heated = HouseholdKind.HOUSE_ELECTRIC_HEATING
    assert month_kwh(heated, 1) > 3 * month_kwh(heated, 7)
    # Lighting alone makes an unheated flat a little heavier in winter, not more.
    flat = HouseholdKind.APARTMENT
    assert month_kwh(flat, 7) < month_kwh(flat, 1) < 2 * month_kwh(flat, 7)


def test_the_load_is_deterministic_per_seed_and_differs_between_seeds() -> None:
    profile = LOAD_PROFILES[HouseholdKind.FAMILY_HOUSE]
    day = day_number(date(2025, 3, 3))
    load_day_table.cache_clear()
    first = load_day_table(profile, 7, DEFAULT_SITE, day)
    load_day_table.cache_clear()
    assert load_day_table(profile, 7, DEFAULT_SITE, day) == first
    assert load_day_table(profile, 8, DEFAULT_SITE, day) != first
    assert all(type(w) is int and w > 0 for w in first)


def test_slot_energies_add_up_to_the_day_whatever_the_slot_length() -> None:
    home = Household(id="h", kind=HouseholdKind.RETIRED_COUPLE, seed=3)
    start = local_midnight_utc(date(2025, 2, 10))
    quarter_hours = [home.slot_energy(start + k * 900, 900).load_wh for k in range(96)]
    minutes = sum(home.slot_energy(start + k * 60, 60).load_wh for k in range(1440))
    whole = home.slot_energy(start, SECONDS_PER_DAY).load_wh
    assert abs(sum(quarter_hours) - whole) <= 96 // 2
    assert abs(minutes - whole) <= 1440 // 2
    assert all(type(e) is int for e in quarter_hours)


def test_dst_days_have_23_and_25_hours_of_load() -> None:
    home = Household(id="h", kind=HouseholdKind.APARTMENT, seed=4)
    for day, hours in ((date(2025, 3, 30), 23), (date(2025, 10, 26), 25)):
        start = local_midnight_utc(day)
        end = local_midnight_utc(day + timedelta(days=1))
        assert end - start == hours * 3600
        assert local_day_number(start) == local_day_number(end - 1) == day_number(day)
        assert home.slot_energy(start, end - start).load_wh > 0
    # 06:00 local on the spring-forward day is 04:00 UTC (CEST).
    assert (
        local_time_utc(date(2025, 3, 30), 6 * 3600)
        == local_midnight_utc(date(2025, 3, 30)) + 5 * 3600
    )


def test_reading_and_forecast_agree_with_slot_energy() -> None:
    home = Household(id="h", kind=HouseholdKind.FAMILY_HOUSE, seed=5)
    slot = local_midnight_utc(date(2025, 5, 5)) + 19 * 3600
    forecast = home.forecast(slot, 900)
    energy = home.slot_energy(slot, 900)
    assert (forecast.slot, forecast.load_wh, forecast.pv_wh) == (slot, energy.load_wh, 0)
    readings = [home.reading(slot + k * STEP_S).import_w for k in range(3)]
    assert abs(sum(readings) * STEP_S // 3600 - energy.load_wh) <= 1
