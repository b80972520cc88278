"""Settlement: what each household was allocated of its trades by what its meter
measured, and what the rest cost at its own grid tariff (docs/settlement.md)."""

from __future__ import annotations

from .slot import (
    NO_TRADES,
    HouseholdSettlement,
    InvalidPositionError,
    SlotPosition,
    Trades,
    scale_down,
    settle_slot,
    trades_by_household,
)

__all__ = [
    "NO_TRADES",
    "HouseholdSettlement",
    "InvalidPositionError",
    "SlotPosition",
    "Trades",
    "scale_down",
    "settle_slot",
    "trades_by_household",
]
