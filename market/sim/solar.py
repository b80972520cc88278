"""The sun's position and the irradiance it puts on a tilted plane (W/m2).

Spencer's (1971) series give the declination and the equation of time; Kasten and
Young's (1989) air mass and Meinel's attenuation (DNI = I0 * 0.7 ** AM ** 0.678) give a
clear-sky beam; a clear-sky index splits global light into beam and diffuse (a linear
stand-in for Erbs' correlation) and the plane sees beam by its incidence angle, sky
diffuse isotropically and ground reflection with an albedo of 0.2. Accurate to a few
per cent over a year, which is what a market simulation needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SOLAR_CONSTANT_W_M2 = 1361.0
GROUND_ALBEDO = 0.2
# Diffuse share of global irradiance under a clear sky and when cloud hides the sun.
CLEAR_DIFFUSE_SHARE = 0.15
CLOUDY_INDEX = 0.3
CLEAR_INDEX = 0.9


@dataclass(frozen=True, slots=True)
class SunDay:
    """What the sun's path depends on for one day: declination and equation of time."""

    declination: float  # radians
    equation_of_time_min: float
    extraterrestrial_w_m2: float

    @classmethod
    def of(cls, day_of_year: int) -> SunDay:
        """Spencer's series for the day of the year (1 = 1 January)."""
        g = 2.0 * math.pi * (day_of_year - 1) / 365.0
        declination = (
            0.006918
            - 0.399912 * math.cos(g)
            + 0.070257 * math.sin(g)
            - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g)
            - 0.002697 * math.cos(3 * g)
            + 0.00148 * math.sin(3 * g)
        )
        equation = 229.18 * (
            0.000075
            + 0.001868 * math.cos(g)
            - 0.032077 * math.sin(g)
            - 0.014615 * math.cos(2 * g)
            - 0.040849 * math.sin(2 * g)
        )
        distance = 1.000110 + 0.034221 * math.cos(g) + 0.001280 * math.sin(g)
        return cls(declination, equation, SOLAR_CONSTANT_W_M2 * distance)


@dataclass(frozen=True, slots=True)
class Plane:
    """A panel plane: unit normal in (east, north, up) from azimuth and tilt in degrees.

    Azimuth is measured clockwise from north: 90 east, 180 south, 270 west.
    """

    east: float
    north: float
    up: float
    tilt: float  # radians

    @classmethod
    def of(cls, azimuth_deg: float, tilt_deg: float) -> Plane:
        """The plane facing `azimuth_deg`, tilted `tilt_deg` from horizontal."""
        azimuth, tilt = math.radians(azimuth_deg), math.radians(tilt_deg)
        return cls(
            math.sin(tilt) * math.sin(azimuth),
            math.sin(tilt) * math.cos(azimuth),
            math.cos(tilt),
            tilt,
        )


def sun_vector(
    sun: SunDay, latitude_deg: float, longitude_deg: float, utc_minutes: float
) -> tuple[float, float, float]:
    """Unit vector to the sun in (east, north, up) at `utc_minutes` after 00:00 UTC."""
    solar_minutes = utc_minutes + 4.0 * longitude_deg + sun.equation_of_time_min
    hour_angle = math.radians(solar_minutes / 4.0 - 180.0)
    latitude = math.radians(latitude_deg)
    cos_d, sin_d = math.cos(sun.declination), math.sin(sun.declination)
    east = -cos_d * math.sin(hour_angle)
    north = math.cos(latitude) * sin_d - math.sin(latitude) * cos_d * math.cos(hour_angle)
    up = math.sin(latitude) * sin_d + math.cos(latitude) * cos_d * math.cos(hour_angle)
    return east, north, up


def air_mass(cos_zenith: float) -> float:
    """Kasten and Young's relative optical air mass (valid down to the horizon)."""
    zenith_deg = math.degrees(math.acos(min(1.0, cos_zenith)))
    return 1.0 / (cos_zenith + 0.50572 * math.pow(96.07995 - zenith_deg, -1.6364))


def diffuse_share(clear_sky_index: float) -> float:
    """Diffuse share of global irradiance: all diffuse under thick cloud, little when clear."""
    if clear_sky_index <= CLOUDY_INDEX:
        return 1.0
    if clear_sky_index >= CLEAR_INDEX:
        return CLEAR_DIFFUSE_SHARE
    slope = (1.0 - CLEAR_DIFFUSE_SHARE) / (CLEAR_INDEX - CLOUDY_INDEX)
    return 1.0 - slope * (clear_sky_index - CLOUDY_INDEX)


def plane_irradiance(
    sun: SunDay,
    sun_direction: tuple[float, float, float],
    plane: Plane,
    clear_sky_index: float,
) -> float:
    """Irradiance (W/m2) on `plane` with the sun at `sun_direction` and the given sky."""
    east, north, up = sun_direction
    if up <= 0.0:
        return 0.0
    beam_normal_clear = sun.extraterrestrial_w_m2 * math.pow(0.7, math.pow(air_mass(up), 0.678))
    global_clear = beam_normal_clear * up / (1.0 - CLEAR_DIFFUSE_SHARE)
    global_horizontal = global_clear * clear_sky_index
    diffuse = global_horizontal * diffuse_share(clear_sky_index)
    beam_normal = (global_horizontal - diffuse) / up
    incidence = east * plane.east + north * plane.north + up * plane.up
    sky_view = (1.0 + math.cos(plane.tilt)) / 2.0
    return (
        beam_normal * max(0.0, incidence)
        + diffuse * sky_view
        + global_horizontal * GROUND_ALBEDO * (1.0 - sky_view)
    )
