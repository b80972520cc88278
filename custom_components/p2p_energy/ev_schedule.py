"""The EV session's schedule as Home Assistant shows it: one serializer for the
`p2p_energy_ev_schedule` event and the EV schedule sensor's attributes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from market.agents.ev_plan import EvSchedule

from .trades import slot_datetime


def ev_schedule_data(schedule: EvSchedule, slot_s: int) -> dict[str, Any]:
    """The schedule with its departure and slot bounds as ISO UTC times."""
    return {
        "departure": slot_datetime(schedule.session.departure).isoformat(),
        "energy_wh": schedule.session.energy_wh,
        "market_wh": schedule.market_wh,
        "grid_wh": schedule.grid_wh,
        "shortfall_wh": schedule.shortfall_wh,
        "slots": [
            {
                "start": slot_datetime(item.slot).isoformat(),
                "end": slot_datetime(item.slot + slot_s).isoformat(),
                "phase": str(item.phase),
                "energy_wh": item.energy_wh,
                "power_w": item.power_w,
                "market_wh": item.market_wh,
                "grid_wh": item.grid_wh,
                "market_final": item.market_final,
            }
            for item in schedule.slots
        ],
    }


def next_charging_slot(schedule: EvSchedule | None, current_slot: int) -> datetime | None:
    """Start of the next (or current) slot the EV charges in."""
    if schedule is None:
        return None
    starts = [s.slot for s in schedule.slots if s.energy_wh > 0 and s.slot >= current_slot]
    return slot_datetime(min(starts)) if starts else None
