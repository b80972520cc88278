"""Horodates of standard-mode datasets: `SAAMMJJhhmmss` as timezone-aware datetimes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
HORODATE_LENGTH = 13


class Season(enum.StrEnum):
    """The season flag of a horodate: which UTC offset the meter's clock was on."""

    WINTER = "winter"
    SUMMER = "summer"


@dataclass(frozen=True, slots=True)
class Horodate:
    """A decoded horodate.

    `at` is in Europe/Paris; the season flag picks the right side of the autumn
    fold (the hour 02:00-03:00 that happens twice). `season` is None for the
    DPM/FPM horodates, whose flag is a space. `degraded` is True when the meter
    flagged its clock as unreliable (lowercase season letter).
    """

    raw: str
    at: datetime
    season: Season | None
    degraded: bool


class HorodateError(ValueError):
    """A horodate field that is not `SAAMMJJhhmmss` with a valid date."""

    def __init__(self, raw: str) -> None:
        super().__init__(f"invalid horodate {raw!r}")
        self.raw = raw


_SEASONS: dict[str, tuple[Season | None, bool]] = {
    "H": (Season.WINTER, False),
    "E": (Season.SUMMER, False),
    "h": (Season.WINTER, True),
    "e": (Season.SUMMER, True),
    " ": (None, False),
}


def parse_horodate(raw: str) -> Horodate:
    """Parse a horodate string; raise HorodateError with the raw text if it is invalid."""
    if len(raw) != HORODATE_LENGTH or not raw[1:].isdigit() or not raw[1:].isascii():
        raise HorodateError(raw)
    flag = _SEASONS.get(raw[0])
    if flag is None:
        raise HorodateError(raw)
    season, degraded = flag
    d = raw[1:]
    try:
        at = datetime(
            2000 + int(d[0:2]),
            int(d[2:4]),
            int(d[4:6]),
            int(d[6:8]),
            int(d[8:10]),
            int(d[10:12]),
            tzinfo=PARIS,
            # fold=1 selects the second (winter-time) occurrence of the repeated
            # autumn hour; elsewhere fold has no effect.
            fold=1 if season is Season.WINTER else 0,
        )
    except ValueError:
        raise HorodateError(raw) from None
    return Horodate(raw=raw, at=at, season=season, degraded=degraded)
