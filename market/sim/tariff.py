"""Household grid tariffs: what the grid charges for import and pays for export."""

from __future__ import annotations

from dataclasses import dataclass

from ..terms import FRENCH_FEED_IN_TICKS, FRENCH_RETAIL_TICKS
from .clock import PARIS, local_hour

# EDF Tarif Bleu option Heures Creuses, regulated price of Aug 2025, ticks per kWh.
FRENCH_PEAK_TICKS = 2081
FRENCH_OFF_PEAK_TICKS = 1635


class InvalidTariffError(ValueError):
    """A tariff parameter is out of range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff:
    """A supply contract: import price (with an optional off-peak price) and feed-in price.

    Prices are ticks per kWh. Off-peak hours run from `off_peak_start_h` to
    `off_peak_end_h` local time, across midnight when start > end.
    """

    name: str
    retail: int
    feed_in: int = FRENCH_FEED_IN_TICKS
    off_peak: int | None = None
    off_peak_start_h: int = 22
    off_peak_end_h: int = 6
    timezone: str = PARIS

    def __post_init__(self) -> None:
        for name in ("retail", "feed_in", "off_peak_start_h", "off_peak_end_h"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidTariffError(f"{name} must be an int >= 0 (got {value!r})")
        if self.off_peak is not None and (type(self.off_peak) is not int or self.off_peak < 0):
            raise InvalidTariffError(f"off_peak must be an int >= 0 (got {self.off_peak!r})")
        if max(self.off_peak_start_h, self.off_peak_end_h) > 23:
            raise InvalidTariffError("off-peak hours must be in [0, 23]")

    def is_off_peak(self, t: int) -> bool:
        """Whether Unix time `t` falls in the off-peak hours (False without the option)."""
        if self.off_peak is None:
            return False
        hour = local_hour(t, self.timezone)
        start, end = self.off_peak_start_h, self.off_peak_end_h
        return start <= hour < end if start <= end else hour >= start or hour < end

    def buy_price(self, t: int) -> int:
        """Import price (ticks per kWh) at Unix time `t`."""
        if self.off_peak is not None and self.is_off_peak(t):
            return self.off_peak
        return self.retail

    def sell_price(self, t: int) -> int:
        """Feed-in price (ticks per kWh) at Unix time `t` (flat under S21, but asked per slot
        like the import price so that a time-varying contract needs no new call)."""
        return self.feed_in


BASE_TARIFF = Tariff(name="base", retail=FRENCH_RETAIL_TICKS)
PEAK_OFF_PEAK_TARIFF = Tariff(
    name="hp_hc", retail=FRENCH_PEAK_TICKS, off_peak=FRENCH_OFF_PEAK_TICKS
)
