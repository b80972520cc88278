"""What the household allows its agents, and the checks of the values given to them.

The community's terms are `market.terms.CommunityTerms`, the same type the node uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NegativeValueError, NonIntegerValueError


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
    """What the household allows its agents: price limits and the meter's power limits.

    `max_buy_price`: no bid above it; `min_sell_price`: no ask below it (ticks).
    `max_import_w` / `max_export_w`: the contract or inverter limits (W) that cap the
    energy bought or offered in one slot.
    """

    max_buy_price: int
    min_sell_price: int
    max_import_w: int
    max_export_w: int

    def __post_init__(self) -> None:
        for name in ("max_buy_price", "min_sell_price", "max_import_w", "max_export_w"):
            check_non_negative(name, getattr(self, name))
