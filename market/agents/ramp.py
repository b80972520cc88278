"""The integer price ramp every agent walks as a slot's gate closure nears."""

from __future__ import annotations

from dataclasses import dataclass

from ..terms import CommunityTerms
from .errors import InvalidRampError
from .limits import HouseholdLimits, check_int


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceRamp:
    """A staircase from a start price to an end price over the last `duration_s` before gate.

    Before the ramp window the price is `start`; inside it, the window is cut into
    `levels` equal parts and part k (0-based) prices at
    `start + (end - start) * k // (levels - 1)`, so the last part is exactly `end`.
    Integer arithmetic only; the price never moves back as time advances. Few levels
    keep re-pricing (a cancel and a new order on the ledger) rare.
    """

    duration_s: int = 1800
    levels: int = 3

    def __post_init__(self) -> None:
        if check_int("duration_s", self.duration_s) <= 0:
            raise InvalidRampError("duration_s", self.duration_s)
        if check_int("levels", self.levels) < 1 or self.levels > self.duration_s:
            raise InvalidRampError("levels", self.levels)

    def level(self, now: int, gate: int) -> int:
        """Which level (0 .. levels-1) applies at `now` for a slot closing at `gate`."""
        remaining = gate - now
        if remaining >= self.duration_s:
            return 0
        if remaining <= 0:
            return self.levels - 1
        elapsed = self.duration_s - remaining
        return elapsed * self.levels // self.duration_s

    def price(self, start: int, end: int, now: int, gate: int) -> int:
        """The ramp's price at `now`: `start` early, `end` in the last level."""
        if self.levels == 1:
            return end
        return start + (end - start) * self.level(now, gate) // (self.levels - 1)


def ask_bounds(terms: CommunityTerms, limits: HouseholdLimits, slot: int) -> tuple[int, int]:
    """(start, end) of a seller's ramp for `slot`.

    End: the higher of the community's floor and the household's minimum for the slot
    (its own feed-in price included). Start: the highest ask that can still trade (the
    ceiling minus the grid fee the clearing adds to asks), never below the end.
    """
    end = max(terms.floor, limits.sell_limit(slot))
    return max(terms.ceiling - terms.grid_fee, end), end


def bid_bounds(
    terms: CommunityTerms, limits: HouseholdLimits, own_max: int, slot: int
) -> tuple[int, int]:
    """(start, end) of a buyer's ramp for `slot`.

    End: the lowest of the buyer's own maximum, the household's for the slot (its own
    import price then included: an off-peak slot of an HP/HC contract ends at the
    off-peak price) and the community's ceiling. Start: the lowest bid that can trade
    with a floor ask (floor plus grid fee), never above the end.
    """
    end = min(own_max, limits.buy_limit(slot), terms.ceiling)
    return min(terms.floor + terms.grid_fee, end), end
