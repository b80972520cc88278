"""Per-slot export surplus: from a given forecast, or a persistence default from readings."""

from __future__ import annotations

from collections.abc import Sequence
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
    """

    window_s: int = 900
    derate_percent: int = 10

    def __post_init__(self) -> None:
        check_non_negative("window_s", self.window_s)
        check_non_negative("derate_percent", self.derate_percent)

    def surplus_w(self, readings: Sequence[Reading], now: int) -> int:
        """Mean net surplus power (W, >= 0) over the readings in the window."""
        recent = [r.export_w - r.import_w for r in readings if now - self.window_s <= r.at <= now]
        if not recent:
            return 0
        return max(0, sum(recent) // len(recent))

    def surplus_wh(
        self, readings: Sequence[Reading], now: int, slots: Sequence[int], terms: CommunityTerms
    ) -> dict[int, int]:
        """Forecast surplus (Wh) for each of `slots`, the first being k = 0."""
        power = self.surplus_w(readings, now)
        return {
            slot: power * terms.slot_s * max(0, 100 - self.derate_percent * index) // 360_000
            for index, slot in enumerate(slots)
        }


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
