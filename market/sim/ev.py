"""Electric cars: when they plug in, when they must leave, how much energy they need."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

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


class InvalidEvSpecError(ValueError):
    """An EV parameter is out of range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSpec:
    """A household's car and charger.

    `daily_km` is the mean distance driven per day (French average about 33 km:
    12,000 km a year); `wh_per_km` includes charging losses. The car plugs in on the
    evening of a weekday with probability `plug_in_permille` / 1000 and then needs the
    energy of the days since its last session. Times are local minutes after midnight.
    """

    charger_power_w: int = 7_400
    min_power_w: int = SINGLE_PHASE_MIN_W
    battery_wh: int = 50_000
    daily_km: int = 33
    wh_per_km: int = 180
    plug_in_permille: int = 700
    arrival_min: int = 18 * 60 + 30
    departure_min: int = 7 * 60 + 45

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


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSessionSpec:
    """One evening's plug-in: `energy_wh` needed between `arrival` and `departure` (Unix s)."""

    arrival: int
    departure: int
    energy_wh: int
    min_power_w: int
    max_power_w: int

    def to_agent_session(self, max_price: int, *, grid_fallback: bool = True) -> EvSession:
        """The market agent's view of this session, bidding at most `max_price` ticks."""
        return EvSession(
            energy_wh=self.energy_wh,
            departure=self.departure,
            max_price=max_price,
            min_power_w=self.min_power_w,
            max_power_w=self.max_power_w,
            grid_fallback=grid_fallback,
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


def ev_session(spec: EvSpec, seed: int, day: date, zone: str = PARIS) -> EvSessionSpec | None:
    """The session plugged in on the evening of local `day`, None when the car stays out.

    Deterministic for (seed, day): the same day always gives the same session.
    """
    rng = stream("ev", seed, day.isoformat())
    weekend = day.weekday() >= 5
    plug_share = WEEKEND_PLUG_SHARE if weekend else spec.plug_in_permille / 1000
    if rng.random() >= plug_share:
        return None
    arrival_min = _minutes(rng, spec.arrival_min, 60.0, 16 * 60, 22 * 60 + 30)
    departure_min = _minutes(rng, spec.departure_min, 30.0, 5 * 60 + 30, 9 * 60 + 30)
    if weekend:
        departure_min += WEEKEND_DEPARTURE_DELAY_MIN
    arrival = local_time_utc(day, arrival_min * 60, zone)
    departure = local_time_utc(day + timedelta(days=1), departure_min * 60, zone)
    # Plugging in every 1/p days means each session refills about 1/p days of driving.
    sigma = 0.3
    km = spec.daily_km / max(plug_share, 0.1) * math.exp(rng.gauss(0.0, sigma) - sigma**2 / 2)
    window_wh = (departure - arrival) * spec.charger_power_w // SECONDS_PER_HOUR
    cap = min(round(spec.battery_wh * MAX_SESSION_BATTERY_SHARE), window_wh)
    energy_wh = min(cap, round(km * spec.wh_per_km))
    return EvSessionSpec(
        arrival=arrival,
        departure=departure,
        energy_wh=energy_wh,
        min_power_w=spec.min_power_w,
        max_power_w=spec.charger_power_w,
    )
