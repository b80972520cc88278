"""A home battery run for self-consumption: store the PV surplus, cover the deficit."""

from __future__ import annotations

from dataclasses import dataclass

from ..units import SECONDS_PER_HOUR


class InvalidBatteryError(ValueError):
    """A battery parameter is out of range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatterySpec:
    """Usable capacity (Wh), charge and discharge power (W), round-trip efficiency (per mille).

    The whole round-trip loss is taken when charging, so the state of charge counts
    energy that can come back out.
    """

    capacity_wh: int
    power_w: int
    efficiency_permille: int = 900

    def __post_init__(self) -> None:
        for name in ("capacity_wh", "power_w", "efficiency_permille"):
            value = getattr(self, name)
            if type(value) is not int or value <= 0:
                raise InvalidBatteryError(f"{name} must be a positive int (got {value!r})")
        if self.efficiency_permille > 1000:
            raise InvalidBatteryError("efficiency_permille must be <= 1000")


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryStep:
    """One slot of the battery: energy taken from the house (charge), given back
    (discharge), and the state of charge after the slot (Wh)."""

    charge_wh: int
    discharge_wh: int
    soc_wh: int


def self_consumption_step(
    spec: BatterySpec, soc_wh: int, pv_wh: int, load_wh: int, slot_s: int
) -> BatteryStep:
    """Charge from the slot's PV surplus, or discharge into its deficit, within limits."""
    limit_wh = spec.power_w * slot_s // SECONDS_PER_HOUR
    surplus = pv_wh - load_wh
    if surplus > 0:
        room_wh = (spec.capacity_wh - soc_wh) * 1000 // spec.efficiency_permille
        charge = min(surplus, limit_wh, room_wh)
        stored = charge * spec.efficiency_permille // 1000
        return BatteryStep(charge_wh=charge, discharge_wh=0, soc_wh=soc_wh + stored)
    discharge = min(-surplus, limit_wh, soc_wh)
    return BatteryStep(charge_wh=0, discharge_wh=discharge, soc_wh=soc_wh - discharge)


class HomeBattery:
    """A battery's state stepped slot by slot (the simulation's only mutable model)."""

    def __init__(self, spec: BatterySpec, soc_wh: int = 0) -> None:
        if not 0 <= soc_wh <= spec.capacity_wh:
            raise InvalidBatteryError(f"soc_wh must be in [0, capacity_wh] (got {soc_wh!r})")
        self.spec = spec
        self.soc_wh = soc_wh

    def step(self, pv_wh: int, load_wh: int, slot_s: int) -> BatteryStep:
        """Run one slot and keep the new state of charge."""
        result = self_consumption_step(self.spec, self.soc_wh, pv_wh, load_wh, slot_s)
        self.soc_wh = result.soc_wh
        return result
