"""The household's "don't trade" hours: no agent has an order for a slot that meets them."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.agents import (
    ConsumptionBuyerAgent,
    EvChargingAgent,
    EvSession,
    FlexibleLoadBuyerAgent,
    HouseholdLimits,
    InvalidWindowError,
    LoadWindow,
    Observation,
    PvSellerAgent,
    SlotForecast,
    SlotResult,
)
from market.localtime import in_daily_window, overlaps_daily_window
from market.terms import CommunityTerms
from tests.market.test_agents_support import (
    HOUR,
    LIMITS,
    MIDNIGHT,
    TERMS,
    market_terms,
    quiet_windows,
)

# MIDNIGHT is 01:00 in Paris (CET): 18:00-20:00 local is 17:00-19:00 UTC that day.
EVENING_QUIET = (18 * 60, 20 * 60)
QUIET_FIRST = MIDNIGHT + 17 * HOUR
QUIET_END = MIDNIGHT + 19 * HOUR
QUIET = replace(LIMITS, quiet=(EVENING_QUIET,))


def quiet_slots(terms: CommunityTerms, limits: HouseholdLimits, slots: range) -> set[int]:
    return {slot for slot in slots if limits.is_quiet(slot, terms.slot_s)}


def test_a_slot_is_quiet_when_it_meets_the_hours_on_the_local_clock() -> None:
    assert not QUIET.is_quiet(QUIET_FIRST - 900, 900)  # 17:45-18:00 local ends as they begin
    assert QUIET.is_quiet(QUIET_FIRST, 900)
    assert QUIET.is_quiet(QUIET_END - 900, 900)  # 19:45-20:00 local
    assert not QUIET.is_quiet(QUIET_END, 900)
    assert QUIET.is_quiet(QUIET_FIRST - 1800, 3600)  # an hour slot half inside
    # July: Paris is UTC+2, so 18:00 local is 16:00 UTC
    july = 1_752_537_600  # 2025-07-15 00:00 UTC
    assert QUIET.is_quiet(july + 16 * HOUR, 900)
    assert not QUIET.is_quiet(july + 18 * HOUR, 900)


def test_a_window_may_cross_midnight() -> None:
    night = (22 * 60, 6 * 60)
    assert in_daily_window(23 * 60, night) and in_daily_window(5 * 60 + 59, night)
    assert not in_daily_window(6 * 60, night) and not in_daily_window(12 * 60, night)
    # 00:00 UTC is 01:00 local, 05:00 UTC is 06:00 local
    assert overlaps_daily_window(MIDNIGHT, MIDNIGHT + 900, night)
    assert overlaps_daily_window(MIDNIGHT + 4 * HOUR + 2700, MIDNIGHT + 5 * HOUR, night)
    assert not overlaps_daily_window(MIDNIGHT + 5 * HOUR, MIDNIGHT + 5 * HOUR + 900, night)
    assert overlaps_daily_window(MIDNIGHT + 21 * HOUR, MIDNIGHT + 21 * HOUR + 900, night)


@pytest.mark.parametrize("window", [(600, 600), (0, 1440), (-1, 60), (60.0, 120), (1, 2, 3)])
def test_bad_quiet_windows_are_refused(window: object) -> None:
    with pytest.raises(InvalidWindowError):
        replace(LIMITS, quiet=(window,))  # type: ignore[arg-type]


def test_the_pv_seller_offers_nothing_in_the_quiet_hours() -> None:
    agent = PvSellerAgent("pv", TERMS, QUIET, horizon_slots=8)
    now = QUIET_FIRST - 3600
    forecast = tuple(
        SlotForecast(slot=slot, pv_wh=900, load_wh=0)
        for slot in range(QUIET_FIRST - 3600, QUIET_FIRST + 3600, 900)
    )
    decision = agent.decide(now, Observation(forecast=forecast))
    offered = {intent.slot for intent in decision.place}
    assert offered == set(range(QUIET_FIRST - 2700, QUIET_FIRST, 900))


def test_quiet_hours_set_later_cancel_the_open_orders_they_cover() -> None:
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS, horizon_slots=4)
    now = QUIET_FIRST - 1800
    slots = TERMS.open_slots(now, 4)
    demand = Observation(demand=dict.fromkeys(slots, 400))
    placed = agent.decide(now, demand).place
    assert {intent.slot for intent in placed} == set(slots)
    agent.set_limits(QUIET)
    decision = agent.decide(now + 10, demand)
    assert not decision.place
    quiet_ids = {intent.id for intent in placed if intent.slot >= QUIET_FIRST}
    assert set(decision.cancel) == quiet_ids
    assert {intent.slot for intent in agent.live_intents} == {s for s in slots if s < QUIET_FIRST}
    # the hours lifted: the agent bids for them again
    agent.set_limits(LIMITS)
    assert {intent.slot for intent in agent.decide(now + 20, demand).place} == {
        s for s in slots if s >= QUIET_FIRST
    }


def test_a_slot_whose_gate_closed_keeps_its_order() -> None:
    # Past the gate an order is on the ledger for good: the hours change only what follows.
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS, horizon_slots=2)
    now = TERMS.gate_closure(QUIET_FIRST) + 10
    agent.decide(now - 1000, Observation(demand={QUIET_FIRST: 400}))
    assert [intent.slot for intent in agent.live_intents] == [QUIET_FIRST]
    agent.set_limits(QUIET)
    assert agent.decide(now, Observation(demand={QUIET_FIRST: 400})).cancel == ()
    assert [intent.slot for intent in agent.live_intents] == [QUIET_FIRST]


def test_the_flexible_load_moves_its_energy_out_of_the_quiet_hours() -> None:
    window = LoadWindow(start=QUIET_FIRST - 1800, end=QUIET_END + 1800, energy_wh=1000)
    agent = FlexibleLoadBuyerAgent(
        "boiler", TERMS, QUIET, power_w=2000, max_price=1500, windows=[window], horizon_slots=12
    )
    decision = agent.decide(QUIET_FIRST - 3600)
    bids = {intent.slot: intent.energy_wh for intent in decision.place}
    # 500 Wh a slot: the two slots before the hours, none in them
    assert bids == {QUIET_FIRST - 1800: 500, QUIET_FIRST - 900: 500}


def test_the_ev_plans_around_the_quiet_hours_and_may_charge_in_them_from_the_grid() -> None:
    departure = QUIET_END
    ev = EvSession(
        energy_wh=7400, departure=departure, max_price=1500, min_power_w=1400, max_power_w=7400
    )
    agent = EvChargingAgent("ev", TERMS, QUIET, ev, horizon_slots=16)
    decision = agent.decide(QUIET_FIRST - 3600)
    schedule = agent.schedule
    assert schedule is not None and schedule.feasible
    # the market's part in the four slots before 18:00 local, none in the quiet hours
    assert {intent.slot for intent in decision.place} == set(
        range(QUIET_FIRST - 2700, QUIET_FIRST, 900)
    )
    assert all(entry.slot < QUIET_FIRST for entry in schedule.slots if entry.market_wh)
    # nobody sells: the car still leaves full, charged from the grid in the quiet hours
    now = QUIET_FIRST - 3600
    while now < departure:
        results = [
            SlotResult(slot=intent.slot, fills={intent.id: 0})
            for intent in agent.live_intents
            if not TERMS.is_open(intent.slot, now)
        ]
        for intent in agent.decide(now, Observation(), results).place:
            assert not QUIET.is_quiet(intent.slot, TERMS.slot_s)
        now += 60
    final = agent.schedule
    assert final is not None and final.planned_wh >= 7400
    assert any(QUIET.is_quiet(entry.slot, 900) and entry.grid_wh for entry in final.slots)


@settings(max_examples=60, deadline=None)
@given(
    terms=market_terms(),
    windows=quiet_windows,
    later=quiet_windows,
    kind=st.sampled_from(("pv", "load", "boiler", "ev")),
    start=st.integers(0, 86_400),
    seed=st.integers(0, 2**32),
)
def test_no_agent_ever_places_an_order_in_its_quiet_hours(
    terms: CommunityTerms,
    windows: tuple[tuple[int, int], ...],
    later: tuple[tuple[int, int], ...],
    kind: str,
    start: int,
    seed: int,
) -> None:
    """Whatever the hours, and when they change mid-run: no order is placed for a quiet
    slot, and after every call no open slot keeps one."""
    rng = random.Random(seed)
    limits = replace(LIMITS, quiet=windows)
    now = MIDNIGHT + start
    end = now + 6 * HOUR
    agent: PvSellerAgent | ConsumptionBuyerAgent | FlexibleLoadBuyerAgent | EvChargingAgent
    if kind == "pv":
        agent = PvSellerAgent("pv", terms, limits, horizon_slots=8)
    elif kind == "load":
        agent = ConsumptionBuyerAgent("load", terms, limits, horizon_slots=8)
    elif kind == "boiler":
        window = LoadWindow(start=now, end=end, energy_wh=rng.randint(0, 20_000))
        agent = FlexibleLoadBuyerAgent(
            "boiler", terms, limits, power_w=3000, max_price=2000, windows=[window]
        )
    else:
        ev = EvSession(
            energy_wh=rng.randint(0, 40_000),
            departure=end,
            max_price=2000,
            min_power_w=1400,
            max_power_w=7400,
        )
        agent = EvChargingAgent("ev", terms, limits, ev, horizon_slots=8)
    answered: set[int] = set()
    switch_at = now + rng.randint(0, 3 * HOUR)
    while now < end:
        if now >= switch_at:
            agent.set_limits(replace(LIMITS, quiet=later))
            switch_at = end
        current = agent.limits
        slots = terms.open_slots(now, 8)
        observation = Observation(
            forecast=tuple(SlotForecast(slot=slot, pv_wh=800, load_wh=300) for slot in slots),
            demand=dict.fromkeys(slots, 500),
        )
        results = []
        for intent in agent.live_intents:
            if not terms.is_open(intent.slot, now) and intent.slot not in answered:
                answered.add(intent.slot)
                fill = rng.choice((0, intent.energy_wh))
                results.append(SlotResult(slot=intent.slot, fills={intent.id: fill}))
        decision = agent.decide(now, observation, results)
        for intent in decision.place:
            assert not current.is_quiet(intent.slot, terms.slot_s), intent
        for intent in agent.live_intents:
            if terms.is_open(intent.slot, now):
                assert not current.is_quiet(intent.slot, terms.slot_s), intent
        now += rng.randint(1, min(600, terms.slot_s))
