"""The profile API in one import: households, their equipment, tariffs and the mix."""

from __future__ import annotations

from ..tariff import BASE_TARIFF, PEAK_OFF_PEAK_TARIFF, Tariff
from .battery import BatterySpec, BatteryStep, HomeBattery, self_consumption_step
from .ev import EvProfile, EvSessionSpec, EvSpec, ev_session, ev_sessions
from .household import DEFAULT_SLOT_S, Household, SlotEnergy
from .load import LOAD_PROFILES, HouseholdKind, LoadProfile
from .metering import MeterFlows, meter_slot
from .neighbourhood import make_neighbourhood
from .pv import PvSystem
from .site import DEFAULT_SITE, Site

__all__ = [
    "BASE_TARIFF",
    "DEFAULT_SITE",
    "DEFAULT_SLOT_S",
    "LOAD_PROFILES",
    "PEAK_OFF_PEAK_TARIFF",
    "BatterySpec",
    "BatteryStep",
    "EvProfile",
    "EvSessionSpec",
    "EvSpec",
    "HomeBattery",
    "Household",
    "HouseholdKind",
    "LoadProfile",
    "MeterFlows",
    "PvSystem",
    "Site",
    "SlotEnergy",
    "Tariff",
    "ev_session",
    "ev_sessions",
    "make_neighbourhood",
    "meter_slot",
    "self_consumption_step",
]
