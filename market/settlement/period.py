"""The periods statements cover: a local day or a local month (Europe/Paris by
default), as a half-open range of Unix seconds.

People read their bills by the calendar of their wall clock, not UTC's; a slot belongs
to the period its start falls in, so the days of a month cover its slots exactly once,
DST days included (23 or 25 hours).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..localtime import PARIS, day_from_number, local_day_number, local_midnight_utc

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class PeriodKind(StrEnum):
    """How long a statement's period is."""

    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    """A local day or month: slots with `start <= slot < end` (Unix s) belong to it."""

    kind: PeriodKind
    label: str
    start: int
    end: int
    zone: str = PARIS

    @classmethod
    def day(cls, day: dt.date, zone: str = PARIS) -> Period:
        """The local day `day`, midnight to midnight."""
        following = day + dt.timedelta(days=1)
        start, end = local_midnight_utc(day, zone), local_midnight_utc(following, zone)
        return cls(PeriodKind.DAY, day.isoformat(), start, end, zone)

    @classmethod
    def month(cls, year: int, month: int, zone: str = PARIS) -> Period:
        """The local month `year`-`month`, from the 1st's midnight to the next 1st's."""
        first = dt.date(year, month, 1)
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        start, end = local_midnight_utc(first, zone), local_midnight_utc(following, zone)
        return cls(PeriodKind.MONTH, f"{year:04d}-{month:02d}", start, end, zone)

    @classmethod
    def parse(cls, text: str, zone: str = PARIS) -> Period:
        """`YYYY-MM-DD` (a day) or `YYYY-MM` (a month); ValueError otherwise."""
        month = _MONTH.fullmatch(text)
        if month is not None:
            return cls.month(int(month[1]), int(month[2]), zone)
        if _DAY.fullmatch(text) is None:
            raise ValueError(f"not a day (YYYY-MM-DD) nor a month (YYYY-MM): {text!r}")
        return cls.day(dt.date.fromisoformat(text), zone)

    @classmethod
    def today(cls, now: int, zone: str = PARIS) -> Period:
        """The local day containing Unix time `now`."""
        return cls.day(day_from_number(local_day_number(now, zone)), zone)

    def days(self) -> list[Period]:
        """The local days of this period, in order (itself, for a day)."""
        if self.kind is PeriodKind.DAY:
            return [self]
        first = dt.date.fromisoformat(f"{self.label}-01")
        days: list[Period] = []
        day = first
        while (period := Period.day(day, self.zone)).start < self.end:
            days.append(period)
            day += dt.timedelta(days=1)
        return days

    def holds(self, slot: int) -> bool:
        """Whether the slot starting at `slot` belongs to this period."""
        return self.start <= slot < self.end

    def to_json_obj(self) -> dict[str, Any]:
        """The period as a JSON object."""
        return {"kind": str(self.kind), "label": self.label, "start": self.start, "end": self.end}
