"""Local wall-clock time: people (and tariffs' off-peak hours) live by it, the market
runs on UTC.

The simulator's profiles are tables of mean power per 5-minute step of the local day;
a slot's energy is the overlap-weighted sum of the steps it covers, so any slot length
works, DST days included (the skipped spring hour is never asked for, the repeated
autumn hour is read twice, as a real household would live it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .units import SECONDS_PER_HOUR

PARIS = "Europe/Paris"
STEP_S = 300
STEPS_PER_DAY = 86_400 // STEP_S
SECONDS_PER_DAY = 86_400
MINUTES_PER_DAY = 1440
EPOCH = date(1970, 1, 1)

DayTable = Callable[[int], Sequence[int]]
"""Mean power (W) per local step of the day whose number since 1970-01-01 is given."""

DailyWindow = tuple[int, int]
"""Hours of every local day: (start, end) minutes after local midnight (0..1439), the
end excluded; a window crossing midnight has start > end (22:00-06:00 is (1320, 360));
start == end is empty. A tariff's off-peak hours and a household's quiet hours."""

# Every real UTC offset and every DST switch falls on a quarter hour of UTC, so one
# look-up per quarter hour is exact.
_OFFSET_BUCKET_S = 900


@lru_cache(maxsize=1 << 16)
def _offset_in_bucket(zone: str, bucket: int) -> int:
    moment = datetime.fromtimestamp(bucket * _OFFSET_BUCKET_S, UTC).astimezone(ZoneInfo(zone))
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def utc_offset_s(t: int, zone: str = PARIS) -> int:
    """Seconds to add to Unix time `t` to read the wall clock of `zone`."""
    return _offset_in_bucket(zone, t // _OFFSET_BUCKET_S)


def local_seconds(t: int, zone: str = PARIS) -> int:
    """Wall-clock seconds since 1970-01-01 00:00 local (not a real instant)."""
    return t + utc_offset_s(t, zone)


def local_day_number(t: int, zone: str = PARIS) -> int:
    """The local day containing `t`, as a day count since 1970-01-01."""
    return local_seconds(t, zone) // SECONDS_PER_DAY


def day_from_number(number: int) -> date:
    """The calendar date of a day count since 1970-01-01."""
    return EPOCH + timedelta(days=number)


def day_number(day: date) -> int:
    """Day count since 1970-01-01 of `day`."""
    return (day - EPOCH).days


def local_hour(t: int, zone: str = PARIS) -> int:
    """The local hour (0-23) of Unix time `t`."""
    return local_seconds(t, zone) % SECONDS_PER_DAY // SECONDS_PER_HOUR


def local_midnight_utc(day: date, zone: str = PARIS) -> int:
    """Unix time of 00:00 local on `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp())


def local_time_utc(day: date, seconds_of_day: int, zone: str = PARIS) -> int:
    """Unix time of a wall-clock time on `day` (seconds after local midnight).

    Uses the day's noon offset: the only ambiguity is the DST hour at night, which no
    profile event falls in on purpose.
    """
    midnight_local = day_number(day) * SECONDS_PER_DAY
    offset = utc_offset_s(midnight_local + SECONDS_PER_DAY // 2, zone)
    return midnight_local + seconds_of_day - offset


def in_daily_window(minute: int, window: DailyWindow) -> bool:
    """Whether `minute` of the local day (0..1439) falls in `window`."""
    start, end = window
    return start <= minute < end if start <= end else minute >= start or minute < end


def overlaps_daily_window(start: int, end: int, window: DailyWindow, zone: str = PARIS) -> bool:
    """Whether the instants [start, end) (Unix s) meet `window` on any local day.

    Compared on the wall clock: a slot on a DST day overlaps the hours it shows.
    """
    first, last = local_seconds(start, zone), local_seconds(end, zone)
    if last <= first:
        return False
    w_start, w_end = window[0] * 60, window[1] * 60
    if w_start == w_end:
        return False
    if w_end < w_start:
        w_end += SECONDS_PER_DAY  # the night's hours, counted from the evening's day
    # every occurrence that may meet [first, last): from the day before the first
    for day in range(first // SECONDS_PER_DAY - 1, (last - 1) // SECONDS_PER_DAY + 1):
        base = day * SECONDS_PER_DAY
        if base + w_start < last and first < base + w_end:
            return True
    return False


def energy_over(table: DayTable, start: int, duration_s: int, zone: str = PARIS) -> int:
    """Energy (Wh, rounded to nearest) of the power `table` over [start, start+duration_s)."""
    watt_seconds = 0
    t = start
    end = start + duration_s
    while t < end:
        local = local_seconds(t, zone)
        into_step = local % STEP_S
        segment_end = min(end, t + STEP_S - into_step)
        day, second = divmod(local, SECONDS_PER_DAY)
        watt_seconds += table(day)[second // STEP_S] * (segment_end - t)
        t = segment_end
    return (watt_seconds + SECONDS_PER_HOUR // 2) // SECONDS_PER_HOUR


def power_at(table: DayTable, t: int, zone: str = PARIS) -> int:
    """Mean power (W) of the step containing `t`."""
    day, second = divmod(local_seconds(t, zone), SECONDS_PER_DAY)
    return table(day)[second // STEP_S]
