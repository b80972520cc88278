"""A simulated household feeding a running node's agents (`market node --meter sim`)."""

from __future__ import annotations

from collections.abc import Callable

from ..agents.inputs import Observation
from .household import DEFAULT_SLOT_S, Household
from .load import HouseholdKind
from .pv import PvSystem

FORECAST_SLOTS = 8


def observation_source(
    household: Household, slot_s: int = DEFAULT_SLOT_S
) -> Callable[[int], Observation]:
    """The agents' view of `household` at any instant: its current reading and a perfect
    forecast of the coming slots."""

    def observe(now_s: int) -> Observation:
        first = now_s - now_s % slot_s
        return Observation(
            readings=(household.reading(now_s),),
            forecast=tuple(
                household.forecast(first + index * slot_s, slot_s)
                for index in range(FORECAST_SLOTS)
            ),
        )

    return observe


def simulated_household(seed: int, slot_s: int = DEFAULT_SLOT_S) -> Callable[[int], Observation]:
    """A family house with 6 kWp facing south, near Lyon: sells surplus on sunny days."""
    household = Household(
        id="sim", kind=HouseholdKind.FAMILY_HOUSE, seed=seed, pv=PvSystem(peak_w=6000)
    )
    return observation_source(household, slot_s)
