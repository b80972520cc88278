"""Rooftop PV: a system's power per 5-minute step from the sun, the sky and the heat."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..localtime import SECONDS_PER_DAY, STEP_S, STEPS_PER_DAY, day_from_number, utc_offset_s
from .site import Site
from .solar import Plane, SunDay, plane_irradiance, sun_vector
from .weather import clear_sky_index, temperature_table

STC_IRRADIANCE_W_M2 = 1000.0
# Crystalline silicon loses about 0.4 %/K above 25 C; a roof-mounted cell runs about
# 25 K above the air at 800 W/m2 (NOCT 45 C).
POWER_TEMPERATURE_COEFFICIENT = -0.004
CELL_RISE_K_PER_W_M2 = 25.0 / 800.0
# PVGIS's default system loss (cables, inverter, soiling, mismatch): 14 %.
DEFAULT_LOSS_PERMILLE = 140


class InvalidPvSystemError(ValueError):
    """A PV parameter is out of range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PvSystem:
    """A PV array: peak power (Wp), azimuth (degrees clockwise from north, 180 = south),
    tilt (degrees from horizontal) and system losses (per mille of DC output)."""

    peak_w: int
    azimuth_deg: int = 180
    tilt_deg: int = 30
    loss_permille: int = DEFAULT_LOSS_PERMILLE

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("peak_w", self.peak_w, 1, 10**7),
            ("azimuth_deg", self.azimuth_deg, 0, 360),
            ("tilt_deg", self.tilt_deg, 0, 90),
            ("loss_permille", self.loss_permille, 0, 999),
        ):
            if type(value) is not int or not low <= value <= high:
                raise InvalidPvSystemError(f"{name} must be an int in [{low}, {high}]")


@lru_cache(maxsize=4096)
def _yield_per_wp(site: Site, azimuth_deg: int, tilt_deg: int, day: int) -> tuple[float, ...]:
    calendar = day_from_number(day)
    sun = SunDay.of(calendar.timetuple().tm_yday)
    plane = Plane.of(azimuth_deg, tilt_deg)
    clouds = clear_sky_index(site, day)
    air_c = temperature_table(site, day)
    # The day's steps are local; the sun runs on UTC. DST switches at night, so the
    # noon offset holds for every daylight step.
    offset = utc_offset_s(day * SECONDS_PER_DAY + SECONDS_PER_DAY // 2, site.timezone)
    out: list[float] = []
    for step in range(STEPS_PER_DAY):
        local_s = step * STEP_S + STEP_S // 2
        utc_minutes = (local_s - offset) / 60.0
        direction = sun_vector(sun, site.latitude, site.longitude, utc_minutes)
        if direction[2] <= 0.0:
            out.append(0.0)
            continue
        irradiance = plane_irradiance(sun, direction, plane, clouds[step])
        cell_c = air_c[step] + irradiance * CELL_RISE_K_PER_W_M2
        derate = 1.0 + POWER_TEMPERATURE_COEFFICIENT * (cell_c - 25.0)
        out.append(max(0.0, irradiance / STC_IRRADIANCE_W_M2 * derate))
    return tuple(out)


@lru_cache(maxsize=8192)
def pv_day_table(system: PvSystem, site: Site, day: int) -> tuple[int, ...]:
    """AC power (W) per 5-minute step of local day `day`, capped at the peak power."""
    keep = (1000 - system.loss_permille) / 1000.0
    return tuple(
        min(system.peak_w, round(system.peak_w * per_wp * keep))
        for per_wp in _yield_per_wp(site, system.azimuth_deg, system.tilt_deg, day)
    )
