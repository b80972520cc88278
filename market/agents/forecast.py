"""Per-slot export surplus: from a given forecast, or a persistence default from readings,
moved by a solar forecast of the household's own PV when there is one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..terms import CommunityTerms
from .inputs import Reading, SlotForecast
from .limits import check_int, check_non_negative


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistenceForecaster:
    """Assume the recent net surplus persists, derated for each slot further ahead.

    Surplus power = mean of (export_w - import_w) over the readings of the last `window_s`
    (floor division), clipped at 0. The k-th coming slot (k = 0 for the first open
    one) gets `surplus_w * slot_s * max(0, 100 - derate_percent * k) // 360_000` Wh:
    persistence is a fair guess for the next quarter hour and a poor one an hour out,
    so later slots offer less and the seller never promises what a cloud could take.
    A solar forecast moves that guess (`surplus_wh`'s `pv_forecast`), derated less.
    """

    window_s: int = 900
    derate_percent: int = 10
    forecast_derate_percent: int = 5

    def __post_init__(self) -> None:
        check_non_negative("window_s", self.window_s)
        check_non_negative("derate_percent", self.derate_percent)
        check_non_negative("forecast_derate_percent", self.forecast_derate_percent)

    def surplus_w(self, readings: Sequence[Reading], now: int) -> int:
        """Mean net surplus power (W, >= 0) over the readings in the window."""
        recent = [r.export_w - r.import_w for r in readings if now - self.window_s <= r.at <= now]
        if not recent:
            return 0
        return max(0, sum(recent) // len(recent))

    def surplus_wh(
        self,
        readings: Sequence[Reading],
        now: int,
        slots: Sequence[int],
        terms: CommunityTerms,
        pv_forecast: Mapping[int, int] | None = None,
    ) -> dict[int, int]:
        """Forecast surplus (Wh) for each of `slots`, the first being k = 0.

        With a `pv_forecast` (the household's own PV, Wh per slot start) that covers the
        slot under way at `now`, the load is taken to persist and the PV to follow the
        forecast: slot k gets the recent surplus plus the forecast's change from now to
        k, derated by `forecast_derate_percent` per slot ahead. A coming slot the
        forecast does not cover keeps the persistence guess. A forecast too optimistic
        now only lowers what is offered: the recent surplus is measured.
        """
        power = self.surplus_w(readings, now)
        slot_s = terms.slot_s
        current = None if pv_forecast is None else pv_forecast.get(now - now % slot_s)
        offers: dict[int, int] = {}
        for index, slot in enumerate(slots):
            expected = None if pv_forecast is None else pv_forecast.get(slot)
            if current is None or expected is None:
                derate = max(0, 100 - self.derate_percent * index)
                offers[slot] = power * slot_s * derate // 360_000
                continue
            moved = max(0, power * slot_s // 3600 + expected - current)
            offers[slot] = moved * max(0, 100 - self.forecast_derate_percent * index) // 100
        return offers


def future_readings(readings: Sequence[Reading], now: int) -> int:
    """How many readings claim a time after `now` (they are dropped)."""
    return sum(1 for reading in readings if reading.at > now)


def forecast_surplus(
    forecast: Sequence[SlotForecast], slots: Sequence[int], terms: CommunityTerms
) -> tuple[dict[int, int], int]:
    """Surplus per slot from a given forecast, and how many entries were dropped.

    Entries for unaligned slots, and repeated entries for one slot, are dropped; slots
    the forecast does not cover get 0 (a given forecast is authoritative).
    """
    wanted = set(slots)
    found: dict[int, int] = {}
    seen: set[int] = set()
    dropped = 0
    for entry in forecast:
        if check_int("slot", entry.slot) % terms.slot_s or entry.slot in seen:
            dropped += 1
            continue
        seen.add(entry.slot)
        if entry.slot in wanted:
            found[entry.slot] = entry.surplus_wh
    return {slot: found.get(slot, 0) for slot in slots}, dropped


def slot_production(
    periods: Mapping[int, int], slots: Sequence[int], slot_s: int, *, period_s: int = 3600
) -> dict[int, int]:
    """The Wh a solar forecast expects in each of `slots`, from its periods.

    `periods` maps a period's start (Unix s) to the Wh expected over it, as solar
    forecast services give them (forecast.solar: hours, Solcast: half hours). A period
    runs until the next one starts, the last one `period_s`; its energy is spread evenly
    over that time (floor division: a forecast, never more than it says). A slot no
    period covers is absent, and a period longer than a day is ignored (a damaged
    forecast, not a production).
    """
    starts = sorted(periods)
    found: dict[int, int] = {}
    for at, start in enumerate(starts):
        end = starts[at + 1] if at + 1 < len(starts) else start + period_s
        length = end - start
        energy = periods[start]
        if length <= 0 or length > 86_400 or energy < 0:
            continue
        for slot in slots:
            overlap = min(end, slot + slot_s) - max(start, slot)
            if overlap > 0:
                found[slot] = found.get(slot, 0) + energy * overlap // length
    return found
