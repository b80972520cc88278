"""How the report shows the engine's integer units (market.units: Wh, ticks, Wh*ticks)
and its ratios (per mille), exactly, without floats."""

from __future__ import annotations

from ..units import TICKS_PER_UNIT, WH_TICKS_PER_UNIT

# 1 tick = 0.0001 currency/kWh, so 1 Wh at 1 tick = 1e-7 currency: 100,000 per cent.
UNITS_PER_CENT = WH_TICKS_PER_UNIT // 100
MONEY_UNIT = "Wh*tick (1e-7 currency)"


def to_cents(amount: int) -> int:
    """An amount in Wh*ticks rounded to whole cents (halves away from zero)."""
    cents, rest = divmod(abs(amount), UNITS_PER_CENT)
    if 2 * rest >= UNITS_PER_CENT:
        cents += 1
    return cents if amount >= 0 else -cents


def money_text(amount: int, currency: str) -> str:
    """An amount in Wh*ticks as "-12.34 EUR"."""
    cents = to_cents(amount)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d} {currency}"


def price_text(ticks: int | None, currency: str) -> str:
    """A price in ticks per kWh as "0.1952 EUR/kWh" (or "n/a")."""
    if ticks is None:
        return "n/a"
    whole, part = divmod(ticks, TICKS_PER_UNIT)
    return f"{whole}.{part:04d} {currency}/kWh"


def ratio_permille(part: int, whole: int) -> int | None:
    """part / whole in per mille, rounded half up; None when `whole` is 0."""
    if whole <= 0:
        return None
    return (part * 1000 + whole // 2) // whole


def permille_text(value: int | None) -> str:
    """A per-mille figure as "42.5 %" (or "n/a")."""
    if value is None:
        return "n/a"
    return f"{_tenths_text(value)} %"


def _tenths_text(tenths: int) -> str:
    sign = "-" if tenths < 0 else ""
    whole, part = divmod(abs(tenths), 10)
    return f"{sign}{whole}.{part}"


def kwh_text(wh: int) -> str:
    """Energy in Wh as "12.3 kWh" (rounded to 100 Wh, halves away from zero)."""
    tenths = (abs(wh) + 50) // 100
    return f"{_tenths_text(tenths if wh >= 0 else -tenths)} kWh"


def days_text(seconds: int) -> str:
    """A duration as "7.0 days" (rounded to a tenth)."""
    return f"{_tenths_text((seconds * 10 + 43_200) // 86_400)} days"
