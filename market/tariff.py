"""A household's grid contract: what the grid charges for import and pays for export, per
moment (docs/settlement.md, "Tariffs").

The grid is every household's alternative, so its prices bound what trading may cost:
an agent never bids above its own current import price nor asks below its feed-in
price, and settlement prices the residual bought from or sold to the grid with them.
Prices are ticks per kWh (market.units). Base, HP/HC (with the meter's own off-peak
hours) and Tempo (a colour per day) cover the French regulated offers; the meter's TIC
says which period applies now (`MeterPeriod.of` a market.meter state), which beats the
hours a user typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from .localtime import MINUTES_PER_DAY, PARIS, DailyWindow, in_daily_window, local_seconds
from .meter.state import MeterState
from .meter.stge import TempoColour
from .terms import FRENCH_FEED_IN_TICKS, FRENCH_RETAIL_TICKS

# EDF Tarif Bleu, regulated prices of 1 Aug 2025 (TTC, ticks per kWh).
FRENCH_PEAK_TICKS = 2081
FRENCH_OFF_PEAK_TICKS = 1635
# Tempo's off-peak hours are fixed by the offer.
TEMPO_OFF_PEAK = ((22 * 60, 6 * 60),)


class InvalidTariffError(ValueError):
    """A tariff parameter is out of range; the message names it."""


class MeterPeriod(NamedTuple):
    """What the meter says of the current tariff period; None where it says nothing."""

    off_peak: bool | None = None
    colour: TempoColour | None = None

    @classmethod
    def of(cls, state: MeterState) -> MeterPeriod:
        """The period a meter state tells (its PTEC or LTARF, and its Tempo colour)."""
        colour = state.tempo_today
        return cls(state.off_peak, None if colour is TempoColour.NONE else colour)


UNKNOWN_PERIOD = MeterPeriod()


class GridPrices(NamedTuple):
    """The grid's prices for one household at one moment (ticks per kWh)."""

    buy: int
    sell: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TempoPrices:
    """Tempo's six import prices: peak and off-peak for each colour."""

    blue_peak: int
    blue_off_peak: int
    white_peak: int
    white_off_peak: int
    red_peak: int
    red_off_peak: int

    def price(self, colour: TempoColour, off_peak: bool) -> int:
        """The import price of `colour` in its peak or off-peak hours (blue when none)."""
        if colour is TempoColour.RED:
            return self.red_off_peak if off_peak else self.red_peak
        if colour is TempoColour.WHITE:
            return self.white_off_peak if off_peak else self.white_peak
        return self.blue_off_peak if off_peak else self.blue_peak


FRENCH_TEMPO_PRICES = TempoPrices(
    blue_peak=1494,
    blue_off_peak=1232,
    white_peak=1730,
    white_off_peak=1391,
    red_peak=6468,
    red_off_peak=1460,
)


def _check_int(name: str, value: object) -> None:
    if type(value) is not int or value < 0:
        raise InvalidTariffError(f"{name} must be an int >= 0 (got {value!r})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff:
    """A supply contract. `retail` is the import price (the peak price when there are
    off-peak hours); `off_peak` the off-peak price, if the contract has one;
    `off_peak_windows` the off-peak hours as (start, end) minutes of the local day, a
    window crossing midnight when start > end (Enedis sets them per meter, and may split
    them, e.g. night and early afternoon); `tempo` replaces the prices by Tempo's, with
    its fixed 22:00-06:00 off-peak hours. A Tempo day whose colour nobody told is priced
    blue (300 days a year, and the cheapest: an agent never bids above what could be the
    real price)."""

    name: str
    retail: int
    feed_in: int = FRENCH_FEED_IN_TICKS
    off_peak: int | None = None
    off_peak_windows: tuple[DailyWindow, ...] = ((22 * 60, 6 * 60),)
    tempo: TempoPrices | None = None
    timezone: str = PARIS

    def __post_init__(self) -> None:
        _check_int("retail", self.retail)
        _check_int("feed_in", self.feed_in)
        if self.off_peak is not None:
            _check_int("off_peak", self.off_peak)
        if self.tempo is not None:
            for field in TempoPrices.__dataclass_fields__:
                _check_int(f"tempo.{field}", getattr(self.tempo, field))
        for start, end in self.off_peak_windows:
            for value in (start, end):
                if type(value) is not int or not 0 <= value < MINUTES_PER_DAY:
                    raise InvalidTariffError(f"off-peak minutes must be 0..1439 (got {value!r})")

    @property
    def has_off_peak(self) -> bool:
        """Whether some hours of the day are priced off-peak."""
        return self.tempo is not None or self.off_peak is not None

    def is_off_peak_hour(self, t: int) -> bool:
        """Whether Unix time `t` falls in the contract's off-peak hours (by the clock)."""
        if not self.has_off_peak:
            return False
        windows = TEMPO_OFF_PEAK if self.tempo is not None else self.off_peak_windows
        minute = local_seconds(t, self.timezone) % 86_400 // 60
        return any(in_daily_window(minute, window) for window in windows)

    def prices(self, t: int, period: MeterPeriod = UNKNOWN_PERIOD) -> GridPrices:
        """The grid's prices at Unix time `t`; what the meter says of the period wins
        over the hours."""
        off_peak = self.is_off_peak_hour(t) if period.off_peak is None else period.off_peak
        if self.tempo is not None:
            colour = period.colour or TempoColour.BLUE
            return GridPrices(self.tempo.price(colour, off_peak), self.feed_in)
        if self.off_peak is not None and off_peak:
            return GridPrices(self.off_peak, self.feed_in)
        return GridPrices(self.retail, self.feed_in)

    def buy_price(self, t: int, period: MeterPeriod = UNKNOWN_PERIOD) -> int:
        """Import price (ticks per kWh) at Unix time `t`."""
        return self.prices(t, period).buy

    def sell_price(self, t: int, period: MeterPeriod = UNKNOWN_PERIOD) -> int:
        """Feed-in price (ticks per kWh) at Unix time `t` (flat under S21, asked per moment
        like the import price so that a time-varying contract needs no new call)."""
        return self.prices(t, period).sell


BASE_TARIFF = Tariff(name="base", retail=FRENCH_RETAIL_TICKS)
PEAK_OFF_PEAK_TARIFF = Tariff(
    name="hp_hc", retail=FRENCH_PEAK_TICKS, off_peak=FRENCH_OFF_PEAK_TICKS
)
TEMPO_TARIFF = Tariff(name="tempo", retail=FRENCH_TEMPO_PRICES.blue_peak, tempo=FRENCH_TEMPO_PRICES)

TARIFF_PRESETS: Mapping[str, Tariff] = MappingProxyType(
    {tariff.name: tariff for tariff in (BASE_TARIFF, PEAK_OFF_PEAK_TARIFF, TEMPO_TARIFF)}
)


def tariff_of_contract(option: str | None) -> Tariff | None:
    """The regulated preset of the contract a meter names (the historic TIC's OPTARIF:
    `BASE`, `HC..`, `BBR(` Tempo; the standard TIC's NGTF, the supplier's own label), or
    None when it names none of them (EJP, an unknown label, no meter)."""
    if option is None:
        return None
    label = option.strip().upper()
    if label.startswith("BBR") or "TEMPO" in label:
        return TEMPO_TARIFF
    if label.startswith("HC") or "CREUSE" in label:
        return PEAK_OFF_PEAK_TARIFF
    if label.startswith("BASE"):
        return BASE_TARIFF
    return None
