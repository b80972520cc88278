"""An EV session planned from what the charger really measured, and the minimum state
of charge first mode (evcc's "min+PV"): a floor charged at once, the rest on cheap slots."""

from __future__ import annotations

import pytest

from market.agents import (
    EvChargingAgent,
    EvSession,
    InvalidPowerRangeError,
    NegativeValueError,
    Observation,
    SlotPhase,
)
from tests.market.test_agents_ev import EVENING, MORNING, night_prices, run_session, session
from tests.market.test_agents_support import HOUR, LIMITS, MIDNIGHT, TERMS


def test_the_plan_counts_what_the_charger_measured_not_what_it_planned() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=7400), horizon_slots=96)
    # everything bought in the first two slots after the evening
    run_session(agent, EVENING, EVENING + 3 * 900, fill=1.0)
    schedule = agent.schedule
    assert schedule is not None
    started = [e for e in schedule.slots if e.phase is SlotPhase.STARTED]
    assert sum(e.energy_wh for e in started) == 3700  # the plan says 3.7 kWh are in
    # The car drew only 1.2 kWh (it limited the current itself): the plan is re-made
    # for what it really lacks.
    agent.record_charged(1200)
    now = EVENING + 3 * 900 + 60
    agent.decide(now, Observation())
    replanned = agent.schedule
    assert replanned is not None
    # the slot under way (bought, 1850 Wh) counts for the 14 of its 15 minutes to come
    under_way = 1850 * 14 // 15
    to_come = [e for e in replanned.slots if e.slot > now]
    assert sum(e.energy_wh for e in to_come) == 7400 - 1200 - under_way
    assert replanned.feasible
    # More measured than planned (the car was topped up elsewhere): nothing more to buy.
    agent.record_charged(7000)
    agent.decide(now + 60, Observation())
    assert agent.schedule is not None
    assert [e for e in agent.schedule.slots if e.slot > now] == []
    with pytest.raises(NegativeValueError):
        agent.record_charged(-1)


def test_minimum_first_charges_the_floor_at_once_then_waits_for_the_cheap_night() -> None:
    agent = EvChargingAgent(
        "ev", TERMS, LIMITS, session(energy_wh=20_000, min_energy_wh=5_000), horizon_slots=96
    )
    agent.decide(EVENING, Observation(expected_prices=night_prices()))
    schedule = agent.schedule
    assert schedule is not None and schedule.feasible
    first = [e for e in schedule.slots if e.slot < EVENING + 4 * 900]
    # 7.4 kW from 18:00: 1850 Wh a slot, the third one completes the 5 kWh
    assert [(e.slot - EVENING, e.grid_wh, e.market_wh) for e in first] == [
        (0, 1850, 0),
        (900, 1850, 0),
        (1800, 1300, 0),
    ]
    rest = [e for e in schedule.slots if e.slot >= EVENING + 4 * 900]
    assert sum(e.market_wh for e in rest) == 15_000
    assert {(e.slot - MIDNIGHT) // HOUR % 24 for e in rest} <= {1, 2, 3, 4}


def test_a_minimum_above_the_target_is_refused() -> None:
    with pytest.raises(InvalidPowerRangeError):
        session(energy_wh=1000, min_energy_wh=2000)
    assert isinstance(session(min_energy_wh=0), EvSession)


def test_a_surplus_only_top_up_is_bought_from_neighbours_or_not_at_all() -> None:
    """20 kWh, the last 8 kWh only on the neighbours' surplus (a car at home in daylight
    fills its battery further when there is some)."""
    empty = EvChargingAgent(
        "ev", TERMS, LIMITS, session(energy_wh=20_000, surplus_only_wh=8_000), horizon_slots=96
    )
    run_session(empty, EVENING, MORNING + 60, fill=0.0)
    assert empty.schedule is not None
    assert empty.schedule.feasible  # the required 12 kWh are in, from the grid
    assert (empty.schedule.market_wh, empty.schedule.grid_wh) == (0, 12_000)

    full = EvChargingAgent(
        "ev", TERMS, LIMITS, session(energy_wh=20_000, surplus_only_wh=8_000), horizon_slots=96
    )
    run_session(full, EVENING, MORNING + 60, fill=1.0)
    assert full.schedule is not None
    assert (full.schedule.market_wh, full.schedule.grid_wh) == (20_000, 0)
    with pytest.raises(InvalidPowerRangeError):
        session(energy_wh=1000, min_energy_wh=600, surplus_only_wh=600)
