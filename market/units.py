"""The engine's units and their conversions, for the engine and the integration alike.

Inside the engine energy is an integer of Wh, a price an integer of ticks per kWh
(1 tick = 0.0001 currency/kWh) and money an integer of Wh x ticks; floats (kWh,
currency/kWh, currency) exist only at the edges, for people.
"""

from __future__ import annotations

from typing import Final

TICKS_PER_UNIT: Final = 10_000  # 1 currency/kWh = 10,000 ticks
WH_PER_KWH: Final = 1000
WH_TICKS_PER_UNIT: Final = WH_PER_KWH * TICKS_PER_UNIT  # Wh x ticks in one currency unit
SECONDS_PER_HOUR: Final = 3600


def to_ticks(price: float) -> int:
    """Currency per kWh (as people write it) to the nearest integer tick."""
    return round(price * TICKS_PER_UNIT)


def to_price(ticks: int) -> float:
    """Ticks to currency per kWh, for display."""
    return ticks / TICKS_PER_UNIT


def to_wh(kwh: float) -> int:
    """kWh (as people write it) to the nearest Wh."""
    return round(kwh * WH_PER_KWH)


def to_kwh(wh: int) -> float:
    """Wh to kWh, for display."""
    return wh / WH_PER_KWH


def to_money(amount: int) -> float:
    """Wh x ticks to currency units, for display."""
    return amount / WH_TICKS_PER_UNIT


def energy_wh(power_w: int, duration_s: int) -> int:
    """Energy (Wh, rounded down) drawn at `power_w` for `duration_s` seconds."""
    return power_w * duration_s // SECONDS_PER_HOUR
