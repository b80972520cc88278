"""The PV model: sun geometry, yearly yield near Lyon, orientation, seeded clouds."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest

from market.localtime import STEP_S, day_number, local_midnight_utc
from market.sim.household import Household
from market.sim.load import HouseholdKind
from market.sim.pv import InvalidPvSystemError, PvSystem, pv_day_table
from market.sim.site import InvalidSiteError, Site
from market.sim.solar import Plane, SunDay, diffuse_share, plane_irradiance, sun_vector
from market.sim.weather import Sky, clear_sky_index, day_weather, sky_odds

LYON = Site()
YEAR_2025 = range(day_number(date(2025, 1, 1)), day_number(date(2026, 1, 1)))


def yearly_kwh_per_kwp(system: PvSystem, site: Site = LYON) -> float:
    wh = sum(sum(pv_day_table(system, site, d)) for d in YEAR_2025) * STEP_S / 3600
    return wh / system.peak_w


def test_3_kwp_south_30_degrees_near_lyon_yields_1200_to_1400_kwh_per_kwp() -> None:
    system = PvSystem(peak_w=3_000, azimuth_deg=180, tilt_deg=30)
    assert 1_200 <= yearly_kwh_per_kwp(system) <= 1_400


def test_orientation_matters_as_expected() -> None:
    south = yearly_kwh_per_kwp(PvSystem(peak_w=1_000))
    east = yearly_kwh_per_kwp(PvSystem(peak_w=1_000, azimuth_deg=90))
    north = yearly_kwh_per_kwp(PvSystem(peak_w=1_000, azimuth_deg=0))
    assert south > east > north
    assert 0.75 < east / south < 0.85

    day = day_number(date(2025, 6, 21))
    east_day = pv_day_table(PvSystem(peak_w=1_000, azimuth_deg=90), LYON, day)
    west_day = pv_day_table(PvSystem(peak_w=1_000, azimuth_deg=270), LYON, day)
    noon = (13 * 3600 + 40 * 60) // STEP_S  # solar noon in Lyon, summer time
    assert sum(east_day[:noon]) > 2 * sum(east_day[noon:])
    assert sum(west_day[noon:]) > 2 * sum(west_day[:noon])


def test_the_sun_is_where_astronomy_puts_it() -> None:
    # Summer solstice in Lyon: solar noon about 11:40 UTC, elevation 90 - 45.76 + 23.44.
    sun = SunDay.of(172)
    elevations = {
        minute: math.degrees(math.asin(sun_vector(sun, 45.76, 4.84, minute)[2]))
        for minute in range(600, 800)
    }
    noon = max(elevations, key=elevations.__getitem__)
    assert 695 <= noon <= 705
    assert elevations[noon] == pytest.approx(67.7, abs=0.3)
    # Winter solstice: 90 - 45.76 - 23.44.
    winter = SunDay.of(355)
    top = max(math.asin(sun_vector(winter, 45.76, 4.84, m)[2]) for m in range(600, 800))
    assert math.degrees(top) == pytest.approx(20.8, abs=0.3)


def test_clear_sky_irradiance_is_realistic() -> None:
    sun = SunDay.of(172)
    direction = sun_vector(sun, 45.76, 4.84, 700)
    horizontal = plane_irradiance(sun, direction, Plane.of(180, 0), 1.0)
    assert 900 < horizontal < 1_050
    assert plane_irradiance(sun, (0.0, 0.0, -0.1), Plane.of(180, 30), 1.0) == 0.0
    assert diffuse_share(0.1) == 1.0
    assert diffuse_share(1.0) == pytest.approx(0.15)
    assert 0.15 < diffuse_share(0.6) < 1.0


def test_pv_is_zero_at_night_and_capped_at_peak() -> None:
    system = PvSystem(peak_w=3_000)
    for day in (day_number(date(2025, 1, 10)), day_number(date(2025, 7, 10))):
        table = pv_day_table(system, LYON, day)
        assert table[: 4 * 12] == (0,) * 48
        assert table[-2 * 12 :] == (0,) * 24
        assert max(table) <= 3_000
        assert all(type(w) is int for w in table)


def test_weather_is_seeded_shared_and_seasonal() -> None:
    skies = Counter(day_weather(LYON, d).sky for d in YEAR_2025)
    assert all(skies[sky] > 30 for sky in Sky)
    assert sky_odds(196)[0] > sky_odds(15)[0]
    assert sky_odds(15)[2] > sky_odds(196)[2]
    summer_clear = sum(day_weather(LYON, d).sky is Sky.CLEAR for d in YEAR_2025[150:240])
    winter_clear = sum(day_weather(LYON, d).sky is Sky.CLEAR for d in YEAR_2025[:60])
    assert summer_clear > winter_clear
    day = YEAR_2025[100]
    clear_sky_index.cache_clear()
    first = clear_sky_index(LYON, day)
    clear_sky_index.cache_clear()
    assert clear_sky_index(LYON, day) == first
    assert clear_sky_index(Site(weather_seed=9), day) != first


def test_overcast_days_produce_much_less_than_clear_days() -> None:
    system = PvSystem(peak_w=1_000)
    summer = YEAR_2025[150:240]
    by_sky: dict[Sky, list[int]] = {sky: [] for sky in Sky}
    for d in summer:
        by_sky[day_weather(LYON, d).sky].append(sum(pv_day_table(system, LYON, d)))
    mean = {sky: sum(v) / len(v) for sky, v in by_sky.items() if v}
    assert mean[Sky.CLEAR] > mean[Sky.PARTLY] > mean[Sky.OVERCAST]
    assert mean[Sky.OVERCAST] < 0.5 * mean[Sky.CLEAR]


def test_a_household_with_pv_produces_in_the_slot() -> None:
    home = Household(id="h", kind=HouseholdKind.FAMILY_HOUSE, seed=1, pv=PvSystem(peak_w=3_000))
    noon = local_midnight_utc(date(2025, 6, 21)) + 13 * 3600
    assert home.slot_energy(noon, 900).pv_wh > 100
    assert home.reading(noon).export_w > 400
    dark = Household(id="d", kind=HouseholdKind.FAMILY_HOUSE, seed=1)
    assert dark.slot_energy(noon, 900).pv_wh == 0


@pytest.mark.parametrize(
    "fields", [{"peak_w": 0}, {"peak_w": 1_000, "tilt_deg": 91}, {"peak_w": 1.5}]
)
def test_invalid_pv_systems_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidPvSystemError):
        PvSystem(**fields)  # type: ignore[arg-type]


def test_invalid_sites_are_refused() -> None:
    with pytest.raises(InvalidSiteError):
        Site(latitude=91.0)
    with pytest.raises(InvalidSiteError):
        Site(longitude=-181.0)
    with pytest.raises(InvalidSiteError):
        Site(weather_seed=1.5)  # type: ignore[arg-type]
