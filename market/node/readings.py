"""What a household's agents read from its Linky."""

from __future__ import annotations

from ..agents import Reading
from ..meter import MeterSnapshot


def reading_from_meter(snapshot: MeterSnapshot, at: int) -> Reading | None:
    """The agents' reading of a meter snapshot at `at` (Unix s); None when unavailable.

    A Linky sees the net flow only: what is exported is the surplus the house can sell,
    what is imported its uncovered load (VA taken as W, see README).
    """
    meter = snapshot.meter
    if meter is None or not snapshot.available:
        return None
    return Reading(
        at=at, export_w=meter.injected_power_va or 0, import_w=meter.apparent_power_va or 0
    )
