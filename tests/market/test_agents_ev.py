"""The EV charging session: full by departure whenever possible, cheapest slots first."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.agents import (
    EvChargingAgent,
    EvSession,
    HouseholdLimits,
    InvalidPowerRangeError,
    NegativeValueError,
    Observation,
    OrderIntent,
    PvSellerAgent,
    SlotForecast,
    SlotPhase,
    SlotResult,
    plan_ev,
)
from market.auction import ClearingParams, clear
from market.model import Side
from market.terms import CommunityTerms
from tests.market.test_agents_support import (
    HOUR,
    LIMITS,
    MIDNIGHT,
    TERMS,
    market_terms,
    quiet_windows,
)

EVENING = MIDNIGHT + 18 * HOUR  # 18:00 UTC, the car comes home
MORNING = MIDNIGHT + 31 * HOUR  # 07:00 UTC next day, it leaves


def session(**changes: object) -> EvSession:
    """20 kWh by 07:00, up to 15 c/kWh, 1.4 to 7.4 kW (6 to 32 A single-phase)."""
    values: dict[str, object] = {
        "energy_wh": 20_000,
        "departure": MORNING,
        "max_price": 1500,
        "min_power_w": 1400,
        "max_power_w": 7400,
    }
    values.update(changes)
    return EvSession(**values)  # type: ignore[arg-type]


def night_prices() -> dict[int, int]:
    """Expected prices: dear in the evening peak, cheap from 01:00 to 05:00 UTC."""
    prices = {}
    for slot in range(EVENING, MORNING, 900):
        hour = (slot - MIDNIGHT) // HOUR % 24
        prices[slot] = 1100 if 1 <= hour < 5 else 1800 if hour < 21 else 1400
    return prices


def run_session(
    agent: EvChargingAgent,
    start: int,
    end: int,
    fill: float,
    *,
    step: int = 60,
    prices: dict[int, int] | None = None,
) -> list[int]:
    """Drive the agent like the node; fill each bid to `fill` of its energy. Returns bid slots."""
    answered: set[int] = set()
    bid_slots: list[int] = []
    observation = Observation(expected_prices=prices or {})
    for now in range(start, end, step):
        results = []
        for intent in agent.live_intents:
            ready = now >= TERMS.gate_closure(intent.slot) + 30
            if ready and intent.slot not in answered:
                answered.add(intent.slot)
                fills = {intent.id: int(intent.energy_wh * fill)}
                results.append(SlotResult(slot=intent.slot, fills=fills))
        decision = agent.decide(now, observation, results)
        bid_slots.extend(intent.slot for intent in decision.place)
    return bid_slots


def test_evening_arrival_bids_in_the_cheap_night_and_is_full_by_morning() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(), horizon_slots=96)
    prices = night_prices()
    agent.decide(EVENING, Observation(expected_prices=prices))
    schedule = agent.schedule
    assert schedule is not None
    assert schedule.feasible
    assert schedule.grid_slots == ()
    # 20 kWh at 1850 Wh per slot: 10 full slots and 1.5 kWh, all between 01:00 and 05:00.
    hours = {(entry.slot - MIDNIGHT) // HOUR % 24 for entry in schedule.slots}
    assert hours <= {1, 2, 3, 4}
    assert [entry.energy_wh for entry in schedule.slots] == [1850] * 10 + [1500]
    assert {entry.power_w for entry in schedule.slots} == {7400, 6000}
    bid_slots = run_session(agent, EVENING + 60, MORNING + 60, fill=1.0, prices=prices)
    assert {(slot - MIDNIGHT) // HOUR % 24 for slot in bid_slots} <= {1, 2, 3, 4}
    final = agent.schedule
    assert final is not None
    assert final.planned_wh == 20_000
    assert final.market_wh == 20_000
    assert all(entry.phase is SlotPhase.STARTED for entry in final.slots)


def test_without_prices_the_earliest_slots_are_bid_first() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=3700))
    decision = agent.decide(EVENING)
    assert [(i.slot - EVENING, i.energy_wh) for i in decision.place] == [(900, 1850), (1800, 1850)]
    assert all(i.side is Side.BUY and i.price <= 1500 for i in decision.place)


def test_empty_market_falls_back_to_the_grid_in_the_last_slots() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=20_000))
    bids = run_session(agent, EVENING, MORNING + 60, fill=0.0)
    final = agent.schedule
    assert final is not None
    assert final.planned_wh >= 20_000
    assert final.market_wh == 0
    # Bids kept moving later; the grid charged only in the night's last hours.
    assert len(set(bids)) > 30
    grid_hours = {(entry.slot - MIDNIGHT) // HOUR % 24 for entry in final.slots}
    assert grid_hours <= {3, 4, 5, 6}


def test_a_half_filled_night_tops_up_from_the_grid_and_says_where() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=60_000))
    run_session(agent, EVENING, MORNING - 2 * HOUR, fill=0.5)
    schedule = agent.schedule
    assert schedule is not None
    assert schedule.feasible
    assert schedule.grid_slots, "2 h left: the market alone is no longer enough"
    assert all(MORNING - 2 * HOUR <= slot < MORNING for slot in schedule.grid_slots)
    run_session(agent, MORNING - 2 * HOUR, MORNING + 60, fill=0.5)
    final = agent.schedule
    assert final is not None
    assert final.planned_wh >= 60_000
    assert 0 < final.market_wh < 60_000
    assert final.market_wh + final.grid_wh == final.planned_wh


def test_no_grid_fallback_reports_the_shortfall() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(grid_fallback=False))
    run_session(agent, EVENING, MORNING + 60, fill=0.0)
    final = agent.schedule
    assert final is not None
    assert final.grid_wh == 0
    assert final.planned_wh == 0
    assert final.shortfall_wh == 20_000


def test_infeasible_session_charges_all_it_can_and_reports_the_rest() -> None:
    schedule = plan_ev(
        now=EVENING,
        session=session(energy_wh=20_000, departure=EVENING + 2 * HOUR),
        terms=TERMS,
        max_power_w=7400,
        bid_limit=1500,
    )
    # The running slot plus 7 more slots at 1850 Wh: 14 800 Wh.
    assert schedule.planned_wh == 14_800
    assert schedule.shortfall_wh == 5200
    assert not schedule.feasible


def test_departure_passed_and_zero_energy_make_no_bids() -> None:
    late = EvChargingAgent("ev", TERMS, LIMITS, session(departure=EVENING - 60))
    decision = late.decide(EVENING)
    assert decision.place == ()
    assert late.schedule is not None
    assert late.schedule.shortfall_wh == 20_000
    assert late.schedule.slots == ()
    full = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=0))
    assert full.decide(EVENING).place == ()
    assert full.schedule is not None
    assert full.schedule.feasible


def test_departure_change_cancels_bids_past_it() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=10_000))
    placed = agent.decide(EVENING).place
    assert len(placed) == 4
    agent.update_session(session(energy_wh=10_000, departure=EVENING + 2700))
    decision = agent.decide(EVENING + 60)
    assert set(decision.cancel) == {i.id for i in placed if i.slot + 900 > EVENING + 2700}
    assert all(i.slot + 900 <= EVENING + 2700 for i in agent.live_intents)


def test_power_range_errors_are_clear() -> None:
    with pytest.raises(InvalidPowerRangeError, match=r"\(7400, 3700\)"):
        session(min_power_w=7400, max_power_w=3700)
    with pytest.raises(InvalidPowerRangeError):
        session(min_power_w=0)
    with pytest.raises(NegativeValueError):
        session(energy_wh=-1)
    small = HouseholdLimits(max_buy_price=2000, min_sell_price=0, max_import_w=3000, max_export_w=0)
    with pytest.raises(InvalidPowerRangeError, match="4100"):
        EvChargingAgent("ev", TERMS, small, session(min_power_w=4100, max_power_w=11_000))


def test_a_small_remainder_runs_at_minimum_power_for_part_of_the_slot() -> None:
    schedule = plan_ev(
        now=EVENING,
        session=session(energy_wh=2000),
        terms=TERMS,
        max_power_w=7400,
        bid_limit=1500,
    )
    assert [(e.energy_wh, e.power_w) for e in schedule.slots] == [(1850, 7400), (150, 1400)]


@st.composite
def ev_cases(draw: st.DrawFn) -> tuple[CommunityTerms, HouseholdLimits, EvSession, int]:
    """Terms, limits, a session and its start time; import always allows min power."""
    terms = draw(market_terms())
    min_power = draw(st.integers(1, 11_000))
    max_power = draw(st.integers(min_power, 22_000))
    limits = HouseholdLimits(
        max_buy_price=draw(st.integers(0, 5000)),
        min_sell_price=0,
        max_import_w=draw(st.integers(min_power, 36_000)),
        max_export_w=0,
        # quiet hours take slots from the market, never from the car: still full
        quiet=draw(quiet_windows),
    )
    start = MIDNIGHT + draw(st.integers(0, 86_400))
    ev = EvSession(
        energy_wh=draw(st.integers(0, 80_000)),
        departure=start + draw(st.integers(-HOUR, 14 * HOUR)),
        max_price=draw(st.integers(0, 5000)),
        min_power_w=min_power,
        max_power_w=max_power,
    )
    return terms, limits, ev, start


@settings(max_examples=100, deadline=None)
@given(case=ev_cases(), seed=st.integers(0, 2**32), horizon=st.integers(0, 12))
def test_schedule_invariants_under_random_fills(
    case: tuple[CommunityTerms, HouseholdLimits, EvSession, int], seed: int, horizon: int
) -> None:
    terms, limits, ev, start = case
    rng = random.Random(seed)
    agent = EvChargingAgent("ev", terms, limits, ev, horizon_slots=horizon)
    max_power = min(ev.max_power_w, limits.max_import_w)
    cap = max_power * terms.slot_s // HOUR
    bid_limit = min(ev.max_price, limits.max_buy_price, terms.ceiling)
    prices = {
        slot: rng.randint(0, 4000)
        for slot in range(terms.slot_of(start), ev.departure, terms.slot_s)
        if rng.random() < 0.7
    }
    observation = Observation(expected_prices=prices)
    answered: set[int] = set()
    feasible_at_start: bool | None = None
    now = start
    while True:
        results = []
        for intent in agent.live_intents:
            if not terms.is_open(intent.slot, now) and intent.slot not in answered:
                answered.add(intent.slot)
                fill = rng.choice((0, intent.energy_wh, rng.randint(0, intent.energy_wh)))
                results.append(SlotResult(slot=intent.slot, fills={intent.id: fill}))
        decision = agent.decide(now, observation, results)
        schedule = agent.schedule
        assert schedule is not None
        if feasible_at_start is None:
            feasible_at_start = schedule.feasible
        for intent in decision.place:
            assert intent.side is Side.BUY
            assert terms.is_open(intent.slot, now)
            assert intent.slot + terms.slot_s <= ev.departure
            assert 0 < intent.energy_wh <= cap
            assert intent.price <= bid_limit <= ev.max_price
            assert not limits.is_quiet(intent.slot, terms.slot_s)
        for entry in schedule.slots:
            assert entry.slot + terms.slot_s <= ev.departure
            assert ev.min_power_w <= entry.power_w <= max_power
            assert entry.energy_wh * HOUR <= entry.power_w * terms.slot_s
            assert entry.energy_wh == entry.market_wh + entry.grid_wh
        if now >= ev.departure:
            break
        now += rng.randint(1, min(300, terms.slot_s))
    final = agent.schedule
    assert final is not None
    if feasible_at_start:
        assert final.planned_wh >= ev.energy_wh
        assert final.shortfall_wh == 0


def test_late_result_only_changes_the_split_of_a_started_slot() -> None:
    agent = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=1850), horizon_slots=1)
    bid = agent.decide(EVENING).place[0]
    agent.decide(bid.slot + 10)  # the slot starts before its result is known
    schedule = agent.schedule
    assert schedule is not None
    entry = schedule.entry(bid.slot)
    assert entry is not None
    assert (entry.phase, entry.market_final) == (SlotPhase.STARTED, False)
    agent.decide(bid.slot + 60, cleared=[SlotResult(slot=bid.slot, fills={bid.id: 1000})])
    schedule = agent.schedule
    assert schedule is not None
    late = schedule.entry(bid.slot)
    assert late is not None
    assert (late.energy_wh, late.market_wh, late.grid_wh, late.market_final) == (
        1850,
        1000,
        850,
        True,
    )
    assert schedule.feasible


def test_midday_ev_buys_a_neighbours_pv_through_the_real_auction() -> None:
    noon = MIDNIGHT + 12 * HOUR
    ev = EvChargingAgent("ev", TERMS, LIMITS, session(energy_wh=3000, departure=noon + 2 * HOUR))
    pv = PvSellerAgent("pv", TERMS, LIMITS)
    forecast = tuple(
        SlotForecast(slot=slot, pv_wh=1000, load_wh=100)
        for slot in range(noon, noon + 3 * HOUR, 900)
    )
    params = ClearingParams(floor=TERMS.floor, ceiling=TERMS.ceiling, grid_fee=TERMS.grid_fee)
    book: dict[str, OrderIntent] = {}
    results: list[SlotResult] = []
    for now in range(noon - 1800, noon + 2 * HOUR + 60, 30):
        observation = Observation(forecast=forecast)
        for decision in (pv.decide(now, observation, results), ev.decide(now, cleared=results)):
            for intent_id in decision.cancel:
                del book[intent_id]
            book.update({intent.id: intent for intent in decision.place})
        results = []
        for slot in sorted({intent.slot for intent in book.values()}):
            if now == TERMS.gate_closure(slot) + 30:
                orders = [i.to_order(i.id.split(":")[0]) for i in book.values() if i.slot == slot]
                results.append(SlotResult.from_clearing(slot, clear(orders, params)))
    final = ev.schedule
    assert final is not None
    assert final.planned_wh == 3000
    assert final.market_wh == 3000  # 900 + 900 + 900 + 300 Wh from the neighbour
    assert final.grid_wh == 0
