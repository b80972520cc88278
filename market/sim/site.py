"""Where the neighbourhood is: coordinates, time zone, climate normals and weather seed."""

from __future__ import annotations

from dataclasses import dataclass

from ..localtime import PARIS

LYON_LATITUDE = 45.76
LYON_LONGITUDE = 4.84


class InvalidSiteError(ValueError):
    """A site parameter is out of its range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """A neighbourhood's location and climate; every household of it shares its weather.

    Latitude and longitude in degrees (north and east positive) drive the sun's path.
    The temperature normals default to Lyon-Bron (1991-2020: about 4 C in January,
    22.5 C in July); they are not derived from the coordinates. `weather_seed` picks
    one weather history: two sites with the same seed see the same skies.
    """

    latitude: float = LYON_LATITUDE
    longitude: float = LYON_LONGITUDE
    timezone: str = PARIS
    weather_seed: int = 0
    annual_mean_c: float = 13.3
    seasonal_amplitude_k: float = 9.2

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise InvalidSiteError(f"latitude must be in [-90, 90] (got {self.latitude!r})")
        if not -180.0 <= self.longitude <= 180.0:
            raise InvalidSiteError(f"longitude must be in [-180, 180] (got {self.longitude!r})")
        if type(self.weather_seed) is not int:
            raise InvalidSiteError(f"weather_seed must be an int (got {self.weather_seed!r})")


DEFAULT_SITE = Site()
