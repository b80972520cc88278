"""Electric cars: when they plug in, when they must leave, how much energy they need."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ..agents.ev_plan import EvSession
from ..localtime import PARIS, local_time_utc
from ..units import SECONDS_PER_HOUR
from .seeding import stream

# A single-phase charger cannot modulate below 6 A (IEC 61851: 6 A x 230 V, ~1.4 kW).
SINGLE_PHASE_MIN_W = 1_400
# On a weekend the car stays at home more often and leaves later.
WEEKEND_PLUG_SHARE = 0.5
WEEKEND_DEPARTURE_DELAY_MIN = 120
# Sessions are capped at this share of the battery: nobody arrives fully empty.
MAX_SESSION_BATTERY_SHARE = 0.8
# Telework days a week of a teleworker and their odds (permille): about two days a
# week, the usual French agreement (an assumption, see docs/simulation.md).
TELEWORK_DAYS = ((2, 600), (3, 400))
# Weekday afternoons at home of a part-time worker.
PART_TIME_AFTERNOONS = 2
# Share of weekend days on which any car stays at home in daytime and is plugged in.
WEEKEND_HOME_DAY_SHARE = 0.4
# After a day plugged in at home, the car seldom needs the evening as well.
HOME_DAY_EVENING_PLUG_SHARE = 0.2
# Sessions of one car are at least this far apart; a daytime session this long at least.
SESSION_GAP_S = 15 * 60
MIN_DAYTIME_SESSION_S = 2 * SECONDS_PER_HOUR
# A car at home in daylight takes up to this many days of driving more from the
# neighbours' surplus alone (never from the grid), as a smart charger's "PV mode" does.
TOP_UP_DAYS = 2
# Earliest afternoon arrival: after the latest morning departure (09:30 + the weekend
# delay = 11:30) plus the gap, so an afternoon session never overlaps the night before.
AFTERNOON_EARLIEST_MIN = 12 * 60


class InvalidEvSpecError(ValueError):
    """An EV parameter is out of range; the message names it."""


class EvProfile(StrEnum):
    """When the car is at home on a weekday (docs/simulation.md, "EVs").

    Every profile plugs in on some evenings and, on a share of weekend days, in daytime.
    """

    COMMUTER = "commuter"  # away on weekdays until the evening
    TELEWORKER = "teleworker"  # at home all day on 2-3 weekdays a week
    PART_TIME = "part_time"  # at home from early afternoon on 2 weekdays a week


class DayKind(StrEnum):
    """Where the car is in daytime on a local day."""

    AWAY = "away"  # out until the evening
    HOME = "home"  # at home from the morning to the evening (a daytime session)
    AFTERNOON = "afternoon"  # back in the early afternoon (the evening session starts then)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSpec:
    """A household's car and charger.

    `daily_km` is the mean distance driven per day (French average about 33 km:
    12,000 km a year); `wh_per_km` includes charging losses. The car plugs in on the
    evening of a weekday with probability `plug_in_permille` / 1000; `profile` says on
    which days it is at home in daytime as well. Times are local minutes after midnight.
    """

    charger_power_w: int = 7_400
    min_power_w: int = SINGLE_PHASE_MIN_W
    battery_wh: int = 50_000
    daily_km: int = 33
    wh_per_km: int = 180
    plug_in_permille: int = 700
    arrival_min: int = 18 * 60 + 30
    departure_min: int = 7 * 60 + 45
    profile: EvProfile = EvProfile.COMMUTER

    def __post_init__(self) -> None:
        for name in (
            "charger_power_w",
            "min_power_w",
            "battery_wh",
            "daily_km",
            "wh_per_km",
            "plug_in_permille",
        ):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise InvalidEvSpecError(f"{name} must be a positive int (got {value!r})")
        if self.min_power_w > self.charger_power_w or self.plug_in_permille > 1000:
            raise InvalidEvSpecError("min_power_w <= charger_power_w, plug_in_permille <= 1000")
        for name in ("arrival_min", "departure_min"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < 24 * 60:
                raise InvalidEvSpecError(f"{name} must be a minute of the day (got {value!r})")
        if not isinstance(self.profile, EvProfile):
            raise InvalidEvSpecError(f"profile must be an EvProfile (got {self.profile!r})")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSessionSpec:
    """One plug-in: `energy_wh` needed between `arrival` and `departure` (Unix s)."""

    arrival: int
    departure: int
    energy_wh: int
    min_power_w: int
    max_power_w: int
    # beyond `energy_wh`, what the car takes only from the neighbours' surplus (a car at
    # home in daylight fills up further when there is some: the next sessions need less)
    surplus_only_wh: int = 0

    def to_agent_session(
        self, max_price: int, *, grid_fallback: bool = True, banked_wh: int = 0
    ) -> EvSession:
        """The market agent's view of this session, bidding at most `max_price` ticks;
        `banked_wh`: what earlier top-ups put in the battery beyond their sessions' need
        (this session needs that much less)."""
        required = max(0, self.energy_wh - banked_wh)
        return EvSession(
            energy_wh=required + self.surplus_only_wh,
            departure=self.departure,
            max_price=max_price,
            min_power_w=self.min_power_w,
            max_power_w=self.max_power_w,
            grid_fallback=grid_fallback,
            surplus_only_wh=self.surplus_only_wh,
        )

    def uncontrolled_wh(self, slot_start: int, slot_s: int) -> int:
        """Energy charged in the slot by a plain charger: full power from arrival until done.

        This is the baseline a smart-charging agent is compared against.
        """
        start = max(slot_start, self.arrival)
        end = min(slot_start + slot_s, self.departure)
        if end <= start:
            return 0
        before = (start - self.arrival) * self.max_power_w // SECONDS_PER_HOUR
        until_end = (end - self.arrival) * self.max_power_w // SECONDS_PER_HOUR
        return max(0, min(until_end, self.energy_wh) - min(before, self.energy_wh))


def _minutes(rng: random.Random, mean: int, sigma: float, low: int, high: int) -> int:
    return min(high, max(low, round(rng.gauss(mean, sigma))))


def _home_weekdays(profile: EvProfile, seed: int, day: date) -> frozenset[int]:
    """The weekdays (0 = Monday) of `day`'s ISO week the car is at home in daytime."""
    if profile is EvProfile.COMMUTER:
        return frozenset()
    year, week, _ = day.isocalendar()
    rng = stream("ev-week", seed, year, week)
    if profile is EvProfile.TELEWORKER:
        counts, weights = zip(*TELEWORK_DAYS, strict=True)
        count = rng.choices(counts, weights=weights)[0]
    else:
        count = PART_TIME_AFTERNOONS
    return frozenset(rng.sample(range(5), count))


def day_kind(spec: EvSpec, seed: int, day: date) -> DayKind:
    """Where the car is in daytime on local `day`; deterministic for (seed, day)."""
    if day.weekday() >= 5:
        home = stream("ev-weekend", seed, day.isoformat()).random() < WEEKEND_HOME_DAY_SHARE
        return DayKind.HOME if home else DayKind.AWAY
    if day.weekday() not in _home_weekdays(spec.profile, seed, day):
        return DayKind.AWAY
    return DayKind.HOME if spec.profile is EvProfile.TELEWORKER else DayKind.AFTERNOON


def _evening_share(spec: EvSpec, kind: DayKind, weekend: bool) -> float:
    if kind is DayKind.HOME:
        return HOME_DAY_EVENING_PLUG_SHARE
    if kind is DayKind.AFTERNOON:
        return 1.0  # at home all afternoon: the car is plugged in
    return WEEKEND_PLUG_SHARE if weekend else spec.plug_in_permille / 1000


def _energy_wh(
    spec: EvSpec, rng: random.Random, sessions_per_day: float, arrival: int, departure: int
) -> int:
    # A day's sessions refill one day of driving on average: each needs
    # daily_km / (the day's expected sessions), with log-normal noise of mean 1.
    sigma = 0.3
    km = spec.daily_km / max(sessions_per_day, 0.1) * math.exp(rng.gauss(0.0, sigma) - sigma**2 / 2)
    window_wh = (departure - arrival) * spec.charger_power_w // SECONDS_PER_HOUR
    cap = min(round(spec.battery_wh * MAX_SESSION_BATTERY_SHARE), window_wh)
    return min(cap, round(km * spec.wh_per_km))


def _session(
    spec: EvSpec, arrival: int, departure: int, energy_wh: int, surplus_only_wh: int = 0
) -> EvSessionSpec:
    return EvSessionSpec(
        arrival=arrival,
        departure=departure,
        energy_wh=energy_wh,
        min_power_w=spec.min_power_w,
        max_power_w=spec.charger_power_w,
        surplus_only_wh=surplus_only_wh,
    )


def _top_up_wh(spec: EvSpec, energy_wh: int, arrival: int, departure: int) -> int:
    """What a daytime session takes beyond its need from surplus only: up to
    `TOP_UP_DAYS` of driving, within the battery's share and the charger's window."""
    window_wh = (departure - arrival) * spec.charger_power_w // SECONDS_PER_HOUR
    battery_wh = round(spec.battery_wh * MAX_SESSION_BATTERY_SHARE)
    wanted = spec.daily_km * spec.wh_per_km * TOP_UP_DAYS
    return max(0, min(wanted, window_wh - energy_wh, battery_wh - energy_wh))


def ev_session(spec: EvSpec, seed: int, day: date, zone: str = PARIS) -> EvSessionSpec | None:
    """The session plugged in on the evening of local `day` (from the early afternoon on
    a part-timer's afternoon at home), None when the car is not plugged in that evening.

    It leaves the next morning. Deterministic for (seed, day): the same day always gives
    the same session. A commuter's weekday evenings draw what they always drew.
    """
    rng = stream("ev", seed, day.isoformat())
    weekend = day.weekday() >= 5
    kind = day_kind(spec, seed, day)
    plug_share = _evening_share(spec, kind, weekend)
    if rng.random() >= plug_share:
        return None
    arrival_min = _minutes(rng, spec.arrival_min, 60.0, 16 * 60, 22 * 60 + 30)
    departure_min = _minutes(rng, spec.departure_min, 30.0, 5 * 60 + 30, 9 * 60 + 30)
    if kind is DayKind.AFTERNOON:
        arrival_min = _minutes(
            stream("ev-afternoon", seed, day.isoformat()),
            13 * 60 + 30,
            45.0,
            AFTERNOON_EARLIEST_MIN,
            15 * 60 + 30,
        )
    if weekend:
        departure_min += WEEKEND_DEPARTURE_DELAY_MIN
    arrival = local_time_utc(day, arrival_min * 60, zone)
    departure = local_time_utc(day + timedelta(days=1), departure_min * 60, zone)
    sessions_per_day = plug_share + (kind is DayKind.HOME)
    return _session(
        spec, arrival, departure, _energy_wh(spec, rng, sessions_per_day, arrival, departure)
    )


def daytime_session(spec: EvSpec, seed: int, day: date, zone: str = PARIS) -> EvSessionSpec | None:
    """The session plugged in from the morning to the evening of local `day` (a
    teleworker's day at home, a weekend day at home), None on other days.

    It starts after the night session before has left and ends before the evening
    session of the day arrives, both by `SESSION_GAP_S` at least, and is dropped if
    that leaves it shorter than `MIN_DAYTIME_SESSION_S`. Deterministic for (seed, day).
    """
    kind = day_kind(spec, seed, day)
    if kind is not DayKind.HOME:
        return None
    rng = stream("ev-day", seed, day.isoformat())
    weekend = day.weekday() >= 5
    later = 60 if weekend else 0  # a weekend morning starts later
    arrival_min = _minutes(rng, 9 * 60 + later, 45.0, 7 * 60 + 30 + later, 11 * 60 + later)
    departure_min = _minutes(rng, 17 * 60 + 30, 60.0, 14 * 60 + 30, 20 * 60)
    arrival = local_time_utc(day, arrival_min * 60, zone)
    departure = local_time_utc(day, departure_min * 60, zone)
    night = ev_session(spec, seed, day - timedelta(days=1), zone)
    if night is not None:
        arrival = max(arrival, night.departure + SESSION_GAP_S)
    evening = ev_session(spec, seed, day, zone)
    if evening is not None:
        departure = min(departure, evening.arrival - SESSION_GAP_S)
    if departure - arrival < MIN_DAYTIME_SESSION_S:
        return None
    sessions_per_day = 1 + HOME_DAY_EVENING_PLUG_SHARE
    energy_wh = _energy_wh(spec, rng, sessions_per_day, arrival, departure)
    return _session(
        spec, arrival, departure, energy_wh, _top_up_wh(spec, energy_wh, arrival, departure)
    )


def ev_sessions(spec: EvSpec, seed: int, day: date, zone: str = PARIS) -> tuple[EvSessionSpec, ...]:
    """Every session that plugs in on local `day`, by arrival: a daytime one and/or an
    evening one. Sessions of one car never overlap, across days too."""
    found = (daytime_session(spec, seed, day, zone), ev_session(spec, seed, day, zone))
    return tuple(session for session in found if session is not None)
