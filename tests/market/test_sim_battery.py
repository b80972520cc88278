"""The home battery's self-consumption step and what the meter then sees."""

from __future__ import annotations

import pytest

from market.sim.battery import (
    BatterySpec,
    BatteryStep,
    HomeBattery,
    InvalidBatteryError,
    self_consumption_step,
)
from market.sim.metering import MeterFlows, meter_slot

SPEC = BatterySpec(capacity_wh=5_000, power_w=2_000, efficiency_permille=900)


def test_surplus_charges_within_the_power_limit_and_pays_the_losses() -> None:
    step = self_consumption_step(SPEC, 0, pv_wh=1_000, load_wh=200, slot_s=900)
    assert step == BatteryStep(charge_wh=500, discharge_wh=0, soc_wh=450)
    assert meter_slot(200, 1_000, battery=step) == MeterFlows(import_wh=0, export_wh=300)


def test_a_full_battery_takes_only_what_fits() -> None:
    step = self_consumption_step(SPEC, 4_910, pv_wh=1_000, load_wh=0, slot_s=900)
    assert step.charge_wh == 100
    assert step.soc_wh == 5_000


def test_deficit_discharges_until_empty() -> None:
    step = self_consumption_step(SPEC, 300, pv_wh=0, load_wh=400, slot_s=900)
    assert step == BatteryStep(charge_wh=0, discharge_wh=300, soc_wh=0)
    assert meter_slot(400, 0, battery=step) == MeterFlows(import_wh=100, export_wh=0)


def test_the_home_battery_keeps_its_state_of_charge() -> None:
    battery = HomeBattery(SPEC)
    for _ in range(20):
        battery.step(pv_wh=2_000, load_wh=0, slot_s=900)
    assert battery.soc_wh <= SPEC.capacity_wh
    assert battery.soc_wh >= SPEC.capacity_wh - 1
    before = battery.soc_wh
    assert battery.step(pv_wh=0, load_wh=600, slot_s=900).discharge_wh == 500
    assert battery.soc_wh == before - 500


def test_the_meter_nets_the_slot_with_the_car() -> None:
    assert meter_slot(300, 1_000, extra_load_wh=900) == MeterFlows(import_wh=200, export_wh=0)
    assert meter_slot(300, 1_000) == MeterFlows(import_wh=0, export_wh=700)


@pytest.mark.parametrize(
    "fields",
    [
        {"capacity_wh": 0, "power_w": 1},
        {"capacity_wh": 1, "power_w": 1, "efficiency_permille": 1_001},
        {"capacity_wh": 1.0, "power_w": 1},
    ],
)
def test_invalid_batteries_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidBatteryError):
        BatterySpec(**fields)  # type: ignore[arg-type]
    with pytest.raises(InvalidBatteryError):
        HomeBattery(SPEC, soc_wh=SPEC.capacity_wh + 1)
