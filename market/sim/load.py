"""Household base load: standby, daily activity with appliance cycles, off-peak hot water
and electric heating, per 5-minute local step, seeded per household and day.

The numbers live in `LOAD_PROFILES` and are documented in docs/simulation.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType

from ..localtime import STEP_S, STEPS_PER_DAY, day_from_number
from .seeding import stream
from .site import Site
from .weather import temperature_table

HOUR_STEPS = 3600 // STEP_S


class HouseholdKind(StrEnum):
    """Household types with distinct yearly consumption and daily rhythm."""

    APARTMENT = "apartment"
    APARTMENT_ELECTRIC_HEATING = "apartment_electric_heating"
    FAMILY_HOUSE = "family_house"
    HOUSE_ELECTRIC_HEATING = "house_electric_heating"
    RETIRED_COUPLE = "retired_couple"


# Relative activity per local hour (cooking, lighting, appliances, screens): a working
# household's weekday has a breakfast peak and a larger evening peak; weekends and
# people at home spread the load over late morning and lunch.
AWAY_WEEKDAY_SHAPE = (
    0.35, 0.3, 0.3, 0.3, 0.3, 0.4, 0.9, 1.7, 1.3, 0.6, 0.5, 0.5,
    0.6, 0.5, 0.5, 0.5, 0.7, 1.1, 1.6, 2.2, 2.3, 2.0, 1.4, 0.7,
)  # fmt: skip
AT_HOME_SHAPE = (
    0.45, 0.35, 0.3, 0.3, 0.3, 0.3, 0.4, 0.8, 1.2, 1.4, 1.3, 1.5,
    1.7, 1.3, 1.0, 0.9, 0.9, 1.1, 1.5, 2.0, 2.1, 1.8, 1.3, 0.8,
)  # fmt: skip

# Share of the activity energy drawn as appliance cycles (washing machine, dishwasher,
# oven: 1.5-2.5 kW for 30-90 min), the rest as a noisy smooth load.
CYCLE_SHARE = 0.35
CYCLE_POWER_W = (1500, 2500)
CYCLE_STEPS = (6, 18)
MAX_CYCLES_PER_DAY = 8
# Indoor temperature the heating holds, less ~3 K of free gains (people, appliances,
# sun): heating runs when the outdoor air is below this balance point.
BALANCE_OCCUPIED_C = 16.5
BALANCE_SETBACK_C = 13.0
# Off-peak contactors switch the water heater on at 22:00, 22:30 or 23:00 (Enedis HC
# schedules vary by area).
HOT_WATER_STARTS_MIN = (22 * 60, 22 * 60 + 30, 23 * 60)
HOT_WATER_POWER_W = 2400


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadProfile:
    """The parameters of one household type's base load.

    `heat_loss_w_per_k` is the electric heating's power per kelvin below the balance
    point (0 without electric heating). Activity and hot water are mean daily energies
    before the seasonal and per-household factors.
    """

    standby_w: int
    activity_wh_per_day: int
    hot_water_wh_per_day: int = 0
    heat_loss_w_per_k: int = 0
    heating_max_w: int = 0
    away_on_weekdays: bool = True


LOAD_PROFILES: Mapping[HouseholdKind, LoadProfile] = MappingProxyType(
    {
        HouseholdKind.APARTMENT: LoadProfile(standby_w=60, activity_wh_per_day=5_300),
        HouseholdKind.APARTMENT_ELECTRIC_HEATING: LoadProfile(
            standby_w=60,
            activity_wh_per_day=5_000,
            hot_water_wh_per_day=3_000,
            heat_loss_w_per_k=60,
            heating_max_w=6_000,
        ),
        HouseholdKind.FAMILY_HOUSE: LoadProfile(
            standby_w=110, activity_wh_per_day=7_300, hot_water_wh_per_day=5_000
        ),
        HouseholdKind.HOUSE_ELECTRIC_HEATING: LoadProfile(
            standby_w=110,
            activity_wh_per_day=7_000,
            hot_water_wh_per_day=5_000,
            heat_loss_w_per_k=140,
            heating_max_w=12_000,
        ),
        HouseholdKind.RETIRED_COUPLE: LoadProfile(
            standby_w=90,
            activity_wh_per_day=6_000,
            hot_water_wh_per_day=3_500,
            away_on_weekdays=False,
        ),
    }
)


def _lognormal_one(rng: random.Random, sigma: float) -> float:
    """A positive factor of mean 1: multiplies a load without biasing its energy."""
    return math.exp(rng.gauss(0.0, sigma) - sigma * sigma / 2.0)


def _step_shape(hourly: Sequence[float]) -> list[float]:
    # Linear between hour centres so the load ramps rather than jumps on the hour.
    out: list[float] = []
    for step in range(STEPS_PER_DAY):
        hour = (step + 0.5) / HOUR_STEPS - 0.5
        low = math.floor(hour)
        weight = hour - low
        out.append(hourly[low % 24] * (1.0 - weight) + hourly[(low + 1) % 24] * weight)
    mean = sum(out) / len(out)
    return [value / mean for value in out]


_SHAPES = {True: _step_shape(AWAY_WEEKDAY_SHAPE), False: _step_shape(AT_HOME_SHAPE)}


def _is_away_day(profile: LoadProfile, day: int) -> bool:
    return profile.away_on_weekdays and day_from_number(day).weekday() < 5


def _winter_weight(day: int) -> float:
    """1 at the winter solstice, -1 at the summer one (lighting follows the night)."""
    day_of_year = day_from_number(day).timetuple().tm_yday
    return math.cos(2.0 * math.pi * (day_of_year + 10) / 365.0)


def household_scale(seed: int) -> float:
    """A household's size factor against its type's mean (0.8-1.2, fixed per seed)."""
    return stream("scale", seed).uniform(0.8, 1.2)


def _activity(profile: LoadProfile, seed: int, day: int, scale: float) -> list[float]:
    rng = stream("activity", seed, day)
    shape = _SHAPES[_is_away_day(profile, day)]
    daily_wh = (
        profile.activity_wh_per_day
        * scale
        * (1.0 + 0.18 * _winter_weight(day))
        * _lognormal_one(rng, 0.12)
    )
    smooth_w = daily_wh * (1.0 - CYCLE_SHARE) / 24.0
    power = [smooth_w * weight * _lognormal_one(rng, 0.35) for weight in shape]
    mean_cycle_wh = sum(CYCLE_POWER_W) / 2.0 * sum(CYCLE_STEPS) / 2.0 * STEP_S / 3600.0
    expected = min(float(MAX_CYCLES_PER_DAY), daily_wh * CYCLE_SHARE / mean_cycle_wh)
    cycles = binomial(rng, MAX_CYCLES_PER_DAY, expected / MAX_CYCLES_PER_DAY)
    for start in rng.choices(range(STEPS_PER_DAY), weights=shape, k=cycles):
        cycle_w = rng.uniform(*CYCLE_POWER_W)
        for step in range(start, min(STEPS_PER_DAY, start + rng.randint(*CYCLE_STEPS))):
            power[step] += cycle_w
    return power


def binomial(rng: random.Random, n: int, p: float) -> int:
    """Successes in `n` trials of probability `p`, drawn as `rng.binomialvariate(n, p)`.

    `Random.binomialvariate` is Python 3.12+ and the engine also runs on 3.11 (Raspberry
    Pi OS); a seed must give the same household on both, so this is CPython's own
    algorithm, call for call, for its small-mean case (n * p < 10: Devroye's geometric
    method). For larger means CPython switches to another method (BTRS); the geometric
    one stays exact there but draws a different stream.
    """
    if p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n == 1:
        return int(rng.random() < p)
    if p > 0.5:
        return n - binomial(rng, n, 1.0 - p)
    successes = trials = 0
    c = math.log2(1.0 - p)
    if not c:
        return successes
    while True:
        trials += math.floor(math.log2(rng.random()) / c) + 1
        if trials > n:
            return successes
        successes += 1


def _hot_water_run(profile: LoadProfile, seed: int, day: int, scale: float) -> tuple[int, int]:
    """(first step after the day's midnight, number of steps) of the evening's heating."""
    start_min = stream("hot-water", seed).choice(HOT_WATER_STARTS_MIN)
    rng = stream("hot-water", seed, day)
    energy_wh = (
        profile.hot_water_wh_per_day
        * scale
        * (1.0 + 0.15 * _winter_weight(day))
        * _lognormal_one(rng, 0.15)
    )
    steps = round(energy_wh / HOT_WATER_POWER_W * HOUR_STEPS)
    return start_min * 60 // STEP_S, steps


def _add_hot_water(
    power: list[float], profile: LoadProfile, seed: int, day: int, scale: float
) -> None:
    # Yesterday's run spills past midnight into today's first steps.
    for run_day, shift in ((day - 1, -STEPS_PER_DAY), (day, 0)):
        start, steps = _hot_water_run(profile, seed, run_day, scale)
        for step in range(max(0, start + shift), min(STEPS_PER_DAY, start + shift + steps)):
            power[step] += HOT_WATER_POWER_W


def _add_heating(
    power: list[float], profile: LoadProfile, seed: int, site: Site, day: int, scale: float
) -> None:
    rng = stream("heating", seed, day)
    away = _is_away_day(profile, day)
    outdoor = temperature_table(site, day)
    for step in range(STEPS_PER_DAY):
        hour = (step + 0.5) / HOUR_STEPS
        asleep = hour < 6.0 or hour >= 23.0
        absent = away and 9.0 <= hour < 17.0
        balance = BALANCE_SETBACK_C if asleep or absent else BALANCE_OCCUPIED_C
        deficit = balance - outdoor[step]
        if deficit > 0.0:
            demand = profile.heat_loss_w_per_k * scale * deficit * _lognormal_one(rng, 0.2)
            power[step] += min(float(profile.heating_max_w), demand)


@lru_cache(maxsize=8192)
def load_day_table(profile: LoadProfile, seed: int, site: Site, day: int) -> tuple[int, ...]:
    """Base load (W) per 5-minute step of local day `day` for household `seed`."""
    scale = household_scale(seed)
    power = _activity(profile, seed, day, scale)
    if profile.hot_water_wh_per_day:
        _add_hot_water(power, profile, seed, day, scale)
    if profile.heat_loss_w_per_k:
        _add_heating(power, profile, seed, site, day, scale)
    return tuple(round(profile.standby_w + value) for value in power)
