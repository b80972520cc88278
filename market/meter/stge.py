"""STGE, the standard-mode status register, decoded into named fields."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TempoColour(enum.IntEnum):
    """A Tempo day colour, numbered as in STGE bits 24-27."""

    NONE = 0
    BLUE = 1
    WHITE = 2
    RED = 3


class CutoffState(enum.IntEnum):
    """State of the meter's cut-off device (STGE bits 1-3)."""

    CLOSED = 0
    OPEN_OVERPOWER = 1
    OPEN_OVERVOLTAGE = 2
    OPEN_REMOTE = 3
    OPEN_OVERCURRENT = 4
    OPEN_OVERHEAT_ABOVE_IMAX = 5
    OPEN_OVERHEAT_BELOW_IMAX = 6
    UNKNOWN_7 = 7


@dataclass(frozen=True, slots=True)
class Stge:
    """The fields of STGE (Enedis-NOI-CPT_54E §6.2.3.14), bit 0 least significant."""

    raw: int
    dry_contact_open: bool
    cutoff: CutoffState
    cover_open: bool
    overvoltage: bool
    over_reference_power: bool
    producer: bool
    negative_active_energy: bool
    supplier_tariff_index: int  # 0-based: NTARF - 1
    distributor_tariff_index: int
    clock_degraded: bool
    standard_mode: bool
    euridis: int
    cpl_status: int
    cpl_synchronised: bool
    tempo_today: TempoColour
    tempo_tomorrow: TempoColour
    mobile_peak_notice: int  # 0 none, else the announced peak period 1-3
    mobile_peak_active: int  # 0 none, else the running peak period 1-3


def decode_stge(raw: int) -> Stge:
    """Split a 32-bit STGE value into its fields."""
    return Stge(
        raw=raw,
        dry_contact_open=bool(raw & 1),
        cutoff=CutoffState((raw >> 1) & 0x7),
        cover_open=bool(raw >> 4 & 1),
        overvoltage=bool(raw >> 6 & 1),
        over_reference_power=bool(raw >> 7 & 1),
        producer=bool(raw >> 8 & 1),
        negative_active_energy=bool(raw >> 9 & 1),
        supplier_tariff_index=(raw >> 10) & 0xF,
        distributor_tariff_index=(raw >> 14) & 0x3,
        clock_degraded=bool(raw >> 16 & 1),
        standard_mode=bool(raw >> 17 & 1),
        euridis=(raw >> 19) & 0x3,
        cpl_status=(raw >> 21) & 0x3,
        cpl_synchronised=bool(raw >> 23 & 1),
        tempo_today=TempoColour((raw >> 24) & 0x3),
        tempo_tomorrow=TempoColour((raw >> 26) & 0x3),
        mobile_peak_notice=(raw >> 28) & 0x3,
        mobile_peak_active=(raw >> 30) & 0x3,
    )
