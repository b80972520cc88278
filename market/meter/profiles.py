"""Household consumption and PV production curves for the simulator (W, by local time)."""

from __future__ import annotations

import math
import random
from datetime import datetime

# A household's draw through the day: a night base, a morning and an evening peak.
_LOAD_BY_HOUR_W: tuple[int, ...] = (
    350, 300, 280, 280, 290, 320, 600, 1100, 900, 600, 500, 550,
    800, 700, 500, 450, 500, 800, 1400, 1700, 1500, 1100, 700, 450,
)  # fmt: skip


def consumption_w(at: datetime, rng: random.Random) -> int:
    """Household draw at `at`: the hourly curve, interpolated, with appliance noise."""
    hour = at.hour + at.minute / 60 + at.second / 3600
    low = _LOAD_BY_HOUR_W[int(hour) % 24]
    high = _LOAD_BY_HOUR_W[(int(hour) + 1) % 24]
    base = low + (high - low) * (hour - int(hour))
    # Short bursts (kettle, oven) on top of a slowly varying base.
    burst = 2000 if rng.random() < 0.02 else 0
    return max(50, round(base * rng.uniform(0.9, 1.1)) + burst)


def pv_w(at: datetime, peak_w: int, rng: random.Random) -> int:
    """PV output at `at` for a `peak_w` array: a sine from 07:00 to 21:00, with clouds."""
    hour = at.hour + at.minute / 60 + at.second / 3600
    sunrise, sunset = 7.0, 21.0
    if not sunrise < hour < sunset:
        return 0
    clear = peak_w * math.sin(math.pi * (hour - sunrise) / (sunset - sunrise))
    cloud = 0.5 if rng.random() < 0.1 else 1.0
    return max(0, round(clear * cloud * rng.uniform(0.95, 1.0)))
