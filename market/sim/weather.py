"""Seeded weather shared by a neighbourhood: sky type per day, cloud passages, temperature.

The day's sky is a Markov chain (skies persist for a few days) whose seasonal odds make
summer mostly clear and winter mostly grey; the temperature is the seasonal normal plus
an AR(1) anomaly (cold spells last about a week) plus a daily cycle whose range depends
on the sky. A whole year is drawn in one pass and cached, so any day can be asked for in
any order and gets the same answer.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from ..localtime import STEPS_PER_DAY, day_from_number
from .seeding import stream
from .site import Site


class Sky(StrEnum):
    """The day's sky, which sets how much of the clear-sky sunshine gets through."""

    CLEAR = "clear"
    PARTLY = "partly"
    OVERCAST = "overcast"


@dataclass(frozen=True, slots=True)
class DayWeather:
    """One day's sky and its departure from the seasonal normal temperature (K)."""

    sky: Sky
    temperature_anomaly_k: float


# Chance a day keeps yesterday's sky, before the seasonal draw.
SKY_PERSISTENCE = 0.4
# Day-to-day memory of the temperature anomaly and the daily innovation (K): a
# standard deviation of about 3 K, with cold or warm spells of about a week.
ANOMALY_MEMORY = 0.8
ANOMALY_STEP_K = 1.8
# Half the day's temperature range (K) in mid-winter and its increase by mid-summer.
DAILY_HALF_RANGE_K = 3.0
DAILY_HALF_RANGE_SUMMER_K = 3.0
# A clear day's index, thin haze and all.
CLEAR_LEVEL = 0.99
_HALF_RANGE_BY_SKY = {Sky.CLEAR: 1.2, Sky.PARTLY: 1.0, Sky.OVERCAST: 0.5}


def summer_weight(day_of_year: int) -> float:
    """0 in mid-January (the coldest, greyest time), 1 in mid-July."""
    return (1.0 - math.cos(2.0 * math.pi * (day_of_year - 15) / 365.0)) / 2.0


def sky_odds(day_of_year: int) -> tuple[float, float, float]:
    """Chances of a clear, partly cloudy and overcast day at this time of year.

    Tuned so that the PV model yields about 1,300 kWh/kWp near Lyon, as PVGIS does.
    """
    summer = summer_weight(day_of_year)
    clear = 0.26 + 0.40 * summer
    overcast = 0.36 - 0.28 * summer
    return clear, 1.0 - clear - overcast, overcast


def _draw_sky(rng: random.Random, day_of_year: int) -> Sky:
    clear, partly, _ = sky_odds(day_of_year)
    draw = rng.random()
    if draw < clear:
        return Sky.CLEAR
    if draw < clear + partly:
        return Sky.PARTLY
    return Sky.OVERCAST


@lru_cache(maxsize=64)
def _year(weather_seed: int, year: int) -> tuple[DayWeather, ...]:
    rng = stream("weather", weather_seed, year)
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    sky = _draw_sky(rng, 1)
    anomaly = rng.gauss(0.0, ANOMALY_STEP_K / math.sqrt(1.0 - ANOMALY_MEMORY**2))
    out: list[DayWeather] = []
    for day_of_year in range(1, days + 1):
        if rng.random() >= SKY_PERSISTENCE:
            sky = _draw_sky(rng, day_of_year)
        anomaly = ANOMALY_MEMORY * anomaly + rng.gauss(0.0, ANOMALY_STEP_K)
        out.append(DayWeather(sky, anomaly))
    return tuple(out)


def day_weather(site: Site, day: int) -> DayWeather:
    """The weather of local day `day` (days since 1970-01-01) at `site`."""
    calendar = day_from_number(day)
    return _year(site.weather_seed, calendar.year)[calendar.timetuple().tm_yday - 1]


@lru_cache(maxsize=4096)
def clear_sky_index(site: Site, day: int) -> tuple[float, ...]:
    """Share of the clear-sky irradiance that gets through, per 5-minute local step.

    Clear days stay near 1; partly cloudy days switch between sun (up to 1.05: cloud
    edges focus light) and cloud shadow (about a third) every quarter hour or so;
    overcast days hover at a fifth to a third with slow changes.
    """
    weather = day_weather(site, day)
    rng = stream("clouds", site.weather_seed, day)
    index: list[float] = []
    if weather.sky is Sky.CLEAR:
        level = CLEAR_LEVEL
        for _ in range(STEPS_PER_DAY):
            level = CLEAR_LEVEL + 0.7 * (level - CLEAR_LEVEL) + rng.gauss(0.0, 0.01)
            index.append(min(1.02, max(0.9, level)))
    elif weather.sky is Sky.PARTLY:
        cover = rng.uniform(0.25, 0.75)
        # Switching odds whose stationary shaded share is `cover`, with spells of a few
        # steps, so a 15-minute slot sees from full sun to full shadow.
        to_shade, to_sun = 0.5 * cover, 0.5 * (1.0 - cover)
        shaded = rng.random() < cover
        for _ in range(STEPS_PER_DAY):
            shaded = rng.random() >= to_sun if shaded else rng.random() < to_shade
            index.append(rng.uniform(0.25, 0.45) if shaded else rng.uniform(0.9, 1.05))
    else:
        base = rng.uniform(0.15, 0.35)
        level = base
        for _ in range(STEPS_PER_DAY):
            level = base + 0.9 * (level - base) + rng.gauss(0.0, 0.02)
            index.append(min(0.5, max(0.05, level)))
    return tuple(index)


def outdoor_temperature_c(site: Site, day: int, hour: float) -> float:
    """Air temperature (C) at local `hour` (0-24, fractional) of local day `day`."""
    mean, half_range = _day_temperature(site, day)
    # Warmest mid-afternoon, coldest before dawn.
    return mean + half_range * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)


@lru_cache(maxsize=4096)
def temperature_table(site: Site, day: int) -> tuple[float, ...]:
    """Air temperature (C) at the middle of each 5-minute local step of day `day`."""
    return tuple(
        outdoor_temperature_c(site, day, (step + 0.5) * 24.0 / STEPS_PER_DAY)
        for step in range(STEPS_PER_DAY)
    )


def _day_temperature(site: Site, day: int) -> tuple[float, float]:
    """The day's mean temperature (C) and half its range (K)."""
    day_of_year = day_from_number(day).timetuple().tm_yday
    weather = day_weather(site, day)
    normal = site.annual_mean_c - site.seasonal_amplitude_k * math.cos(
        2.0 * math.pi * (day_of_year - 20) / 365.0
    )
    half_range = (DAILY_HALF_RANGE_K + DAILY_HALF_RANGE_SUMMER_K * summer_weight(day_of_year)) * (
        _HALF_RANGE_BY_SKY[weather.sky]
    )
    return normal + weather.temperature_anomaly_k, half_range
