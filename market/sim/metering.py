"""What the household's meter sees over a slot, from its flows behind the meter."""

from __future__ import annotations

from dataclasses import dataclass

from .battery import BatteryStep


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterFlows:
    """Energy imported from and exported to the grid over one slot (Wh)."""

    import_wh: int
    export_wh: int


def meter_slot(
    load_wh: int, pv_wh: int, *, extra_load_wh: int = 0, battery: BatteryStep | None = None
) -> MeterFlows:
    """Net the slot's flows behind the meter into import or export.

    A slot is netted as a whole: a real meter counts import and export separately within
    the slot, so this slightly overstates self-consumption when the load and the sun
    cross within 15 minutes; it is the granularity the market trades at.
    """
    charge = battery.charge_wh if battery else 0
    discharge = battery.discharge_wh if battery else 0
    net = load_wh + extra_load_wh + charge - pv_wh - discharge
    return MeterFlows(import_wh=max(0, net), export_wh=max(0, -net))
