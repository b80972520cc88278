"""What the agents must respect: the community's market terms and the household's limits."""

from __future__ import annotations

from dataclasses import dataclass

from ..auction.params import ClearingParams
from ..terms import CommunityTerms, SlotClock
from ..units import energy_wh
from .errors import (
    InvalidTermsError,
    NegativeValueError,
    NonIntegerValueError,
    UnalignedSlotError,
)


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
class MarketTerms(SlotClock):
    """The community's slot clock (`market.terms.SlotClock`) and price bounds.

    `floor` is the feed-in price (the seller's alternative), `ceiling` the retail price
    (the buyer's alternative), `grid_fee` the ticks per kWh added to every ask by the
    clearing; `slot_s` the slot length and `gate_lead_s` how long before a slot starts
    its book closes. Prices in ticks (0.0001 currency/kWh).
    """

    floor: int
    ceiling: int
    grid_fee: int = 0

    def __post_init__(self) -> None:
        for name in ("floor", "ceiling", "grid_fee", "gate_lead_s"):
            check_non_negative(name, getattr(self, name))
        if check_int("slot_s", self.slot_s) <= 0:
            raise InvalidTermsError("slot_s", self.slot_s)
        if self.ceiling < self.floor:
            raise InvalidTermsError("floor <= ceiling", (self.floor, self.ceiling))

    @classmethod
    def from_clearing_params(
        cls, params: ClearingParams, *, slot_s: int = 900, gate_lead_s: int = 300
    ) -> MarketTerms:
        """The terms of a community that clears with `params` (which must have a ceiling)."""
        if params.ceiling is None:
            raise InvalidTermsError("ceiling", params.ceiling)
        return cls(
            floor=params.floor,
            ceiling=params.ceiling,
            grid_fee=params.grid_fee,
            slot_s=slot_s,
            gate_lead_s=gate_lead_s,
        )

    @classmethod
    def of_community(cls, terms: CommunityTerms) -> MarketTerms:
        """The agents' view of a community's terms."""
        return cls(
            floor=terms.floor,
            ceiling=terms.ceiling,
            grid_fee=terms.grid_fee,
            slot_s=terms.slot_s,
            gate_lead_s=terms.gate_lead_s,
        )

    def check_slot(self, slot: int) -> int:
        """Return `slot` if it is an aligned slot start, else raise `UnalignedSlotError`."""
        if check_int("slot", slot) % self.slot_s:
            raise UnalignedSlotError("slot", slot)
        return slot

    def slot_energy_wh(self, power_w: int) -> int:
        """Energy of one full slot at `power_w`."""
        return energy_wh(power_w, self.slot_s)


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
