"""What the household allows its agents, and the checks of the values given to them.

The community's terms are `market.terms.CommunityTerms`, the same type the node uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..localtime import MINUTES_PER_DAY, PARIS, DailyWindow, overlaps_daily_window
from ..tariff import Tariff
from .errors import InvalidWindowError, NegativeValueError, NonIntegerValueError


def check_int(field: str, value: object) -> int:
    """Return `value` if it is a real int (not a bool, not a float), else raise."""
    if type(value) is not int:
        raise NonIntegerValueError(field, value)
    return value


def check_non_negative(field: str, value: object) -> int:
    """Return `value` if it is an int >= 0, else raise."""
    number = check_int(field, value)
    if number < 0:
        raise NegativeValueError(field, number)
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdLimits:
    """What the household allows its agents: price limits, the meter's power limits and
    the hours it does not trade.

    `max_buy_price`: no bid above it; `min_sell_price`: no ask below it (ticks).
    `max_import_w` / `max_export_w`: the contract or inverter limits (W) that cap the
    energy bought or offered in one slot. `tariff`: the household's grid contract; with
    it, a slot's bid never exceeds the import price of that slot nor an ask go below the
    feed-in price, so that trading never costs more than the grid would
    (docs/settlement.md, "Why nobody ends worse off"). `quiet`: the "don't trade"
    hours, (start, end) minutes of the local day in `timezone` like a tariff's off-peak
    hours (a window crossing midnight has start > end): no agent has an order for a slot
    that overlaps one of them.
    """

    max_buy_price: int
    min_sell_price: int
    max_import_w: int
    max_export_w: int
    tariff: Tariff | None = None
    quiet: tuple[DailyWindow, ...] = ()
    timezone: str = PARIS

    def __post_init__(self) -> None:
        for name in ("max_buy_price", "min_sell_price", "max_import_w", "max_export_w"):
            check_non_negative(name, getattr(self, name))
        for window in self.quiet:
            if (
                not isinstance(window, tuple)
                or len(window) != 2
                or any(type(v) is not int or not 0 <= v < MINUTES_PER_DAY for v in window)
                or window[0] == window[1]
            ):
                # an empty window (start == end) is refused: it reads as "all day" to some
                raise InvalidWindowError("quiet", window)

    def is_quiet(self, slot: int, slot_s: int) -> bool:
        """Whether the slot [slot, slot + slot_s) overlaps a quiet window: no trading."""
        return any(
            overlaps_daily_window(slot, slot + slot_s, window, self.timezone)
            for window in self.quiet
        )

    def buy_limit(self, slot: int) -> int:
        """The highest bid for the slot starting at `slot` (Unix s)."""
        if self.tariff is None:
            return self.max_buy_price
        return min(self.max_buy_price, self.tariff.buy_price(slot))

    def sell_limit(self, slot: int) -> int:
        """The lowest ask for the slot starting at `slot` (Unix s)."""
        if self.tariff is None:
            return self.min_sell_price
        return max(self.min_sell_price, self.tariff.sell_price(slot))
