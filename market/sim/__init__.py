"""Simulation of a French neighbourhood trading energy: profiles, settlement, report.

Everything here is pure and seeded: the same seed gives the same households, the same
weather, the same settlement and byte-identical reports. `charts` needs matplotlib and
imports it only when drawing.
"""

from __future__ import annotations

from .profiles import (
    BASE_TARIFF,
    DEFAULT_SITE,
    DEFAULT_SLOT_S,
    LOAD_PROFILES,
    PEAK_OFF_PEAK_TARIFF,
    BatterySpec,
    BatteryStep,
    EvProfile,
    EvSessionSpec,
    EvSpec,
    HomeBattery,
    Household,
    HouseholdKind,
    LoadProfile,
    MeterFlows,
    PvSystem,
    Site,
    SlotEnergy,
    Tariff,
    ev_session,
    ev_sessions,
    make_neighbourhood,
    meter_slot,
    self_consumption_step,
)
from .report import CommunitySummary, HouseholdTotals, HouseholdUsage, Report, SlotPoint

__all__ = [
    "BASE_TARIFF",
    "DEFAULT_SITE",
    "DEFAULT_SLOT_S",
    "LOAD_PROFILES",
    "PEAK_OFF_PEAK_TARIFF",
    "BatterySpec",
    "BatteryStep",
    "CommunitySummary",
    "EvProfile",
    "EvSessionSpec",
    "EvSpec",
    "HomeBattery",
    "Household",
    "HouseholdKind",
    "HouseholdTotals",
    "HouseholdUsage",
    "LoadProfile",
    "MeterFlows",
    "PvSystem",
    "Report",
    "Site",
    "SlotEnergy",
    "SlotPoint",
    "Tariff",
    "ev_session",
    "ev_sessions",
    "make_neighbourhood",
    "meter_slot",
    "self_consumption_step",
]
