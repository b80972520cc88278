"""The PV seller: never offers more than it can deliver, never asks below its floor."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from market.agents import (
    HouseholdLimits,
    Observation,
    PersistenceForecaster,
    PvSellerAgent,
    Reading,
    SlotForecast,
    SlotResult,
    ask_bounds,
)
from market.model import Side
from market.terms import CommunityTerms
from tests.market.test_agents_support import (
    HOUR,
    LIMITS,
    MIDNIGHT,
    TERMS,
    household_limits,
    market_terms,
)


def sunny_pv_w(t: int) -> int:
    """A clear November day in southern France: 0 W at night, 4.2 kW at 12:30 UTC."""
    seconds = (t - MIDNIGHT) % 86_400
    rise, noon, sunset = 7 * HOUR + 1800, 12 * HOUR + 1800, 17 * HOUR + 1800
    if not rise <= seconds <= sunset:
        return 0
    distance = abs(seconds - noon)
    return 4200 * (5 * HOUR - distance) // (5 * HOUR)


def day_forecast(terms: CommunityTerms, load_wh: int) -> tuple[SlotForecast, ...]:
    """Per-slot forecast of the sunny day, the base load flat."""
    return tuple(
        SlotForecast(slot=slot, pv_wh=sunny_pv_w(slot) * terms.slot_s // HOUR, load_wh=load_wh)
        for slot in range(MIDNIGHT, MIDNIGHT + 86_400, terms.slot_s)
    )


def test_sunny_day_offers_midday_surplus_only_and_ramps_each_slot_down() -> None:
    agent = PvSellerAgent("pv", TERMS, LIMITS)
    observation = Observation(forecast=day_forecast(TERMS, load_wh=100))
    surplus = {entry.slot: entry.surplus_wh for entry in observation.forecast or ()}
    asks_by_slot: dict[int, list[int]] = {}
    live: dict[str, int] = {}
    for now in range(MIDNIGHT, MIDNIGHT + 86_400, 60):
        decision = agent.decide(now, observation)
        for intent_id in decision.cancel:
            assert intent_id in live
            del live[intent_id]
        for intent in decision.place:
            assert intent.side is Side.SELL
            assert TERMS.is_open(intent.slot, now)
            assert intent.energy_wh <= surplus[intent.slot]
            asks_by_slot.setdefault(intent.slot, []).append(intent.price)
            live[intent.id] = intent.slot
    offered_hours = sorted({(slot - MIDNIGHT) // HOUR for slot in asks_by_slot})
    assert offered_hours[0] >= 7
    assert offered_hours[-1] <= 17
    noon = MIDNIGHT + 12 * HOUR + 1800
    # Each slot is offered at 1852 (retail minus the grid fee), then 1126, then 400.
    assert asks_by_slot[noon] == [1852, 1126, 400]
    for asks in asks_by_slot.values():
        assert asks == sorted(asks, reverse=True)
        assert asks[-1] == 400


def test_repricing_cancels_the_previous_ask_of_the_slot() -> None:
    agent = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    slot = MIDNIGHT + 12 * HOUR
    gate = TERMS.gate_closure(slot)
    observation = Observation(forecast=(SlotForecast(slot=slot, pv_wh=900, load_wh=100),))
    first = agent.decide(gate - 800, observation)
    assert [(i.slot, i.energy_wh, i.price) for i in first.place] == [(slot, 800, 1126)]
    assert agent.decide(gate - 700, observation).place == ()
    second = agent.decide(gate - 500, observation)
    assert second.cancel == (first.place[0].id,)
    assert [(i.slot, i.energy_wh, i.price) for i in second.place] == [(slot, 800, 400)]
    assert agent.live_intents == second.place


def test_a_falling_forecast_shrinks_the_offer_before_gate_closure() -> None:
    agent = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    slot = MIDNIGHT + 12 * HOUR
    now = TERMS.gate_closure(slot) - 100
    agent.decide(now, Observation(forecast=(SlotForecast(slot=slot, pv_wh=900, load_wh=0),)))
    cloudy = Observation(forecast=(SlotForecast(slot=slot, pv_wh=300, load_wh=0),))
    decision = agent.decide(now + 10, cloudy)
    assert len(decision.cancel) == 1
    assert [i.energy_wh for i in decision.place] == [300]
    # A small rise stays within resize_wh and is not worth a new ledger entry.
    assert (
        agent.decide(
            now + 20, Observation(forecast=(SlotForecast(slot=slot, pv_wh=340, load_wh=0),))
        )
        == type(decision)()
    )


def test_export_limit_caps_the_offer() -> None:
    limits = HouseholdLimits(max_buy_price=0, min_sell_price=0, max_import_w=0, max_export_w=3000)
    agent = PvSellerAgent("pv", TERMS, limits, horizon_slots=1)
    slot = MIDNIGHT + 12 * HOUR
    decision = agent.decide(
        slot - 1000, Observation(forecast=(SlotForecast(slot=slot, pv_wh=5000, load_wh=0),))
    )
    assert [i.energy_wh for i in decision.place] == [750]  # 3 kW x 15 min


def test_default_forecaster_persists_recent_surplus_with_derating() -> None:
    now = MIDNIGHT + 12 * HOUR + 100
    readings = (
        Reading(at=now - 1000, export_w=9000, import_w=0),  # outside the 900 s window
        Reading(at=now - 600, export_w=3000, import_w=600),
        Reading(at=now - 10, export_w=3200, import_w=400),
    )
    agent = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=3)
    decision = agent.decide(now, Observation(readings=readings))
    # Mean surplus 2600 W: 650 Wh per slot, derated 0 %, 10 %, 20 %.
    assert [i.energy_wh for i in decision.place] == [650, 585, 520]
    assert PersistenceForecaster().surplus_w((), now) == 0


def test_night_readings_offer_nothing() -> None:
    now = MIDNIGHT + 2 * HOUR
    agent = PvSellerAgent("pv", TERMS, LIMITS)
    decision = agent.decide(now, Observation(readings=(Reading(at=now, export_w=0, import_w=300),)))
    assert decision.place == ()


def test_bad_inputs_are_dropped_and_counted() -> None:
    now = MIDNIGHT + 12 * HOUR
    agent = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    slot = TERMS.first_open_slot(now)
    observation = Observation(
        readings=(Reading(at=now + 3600, export_w=5000, import_w=0),),
        forecast=(
            SlotForecast(slot=slot, pv_wh=500, load_wh=0),
            SlotForecast(slot=slot, pv_wh=900, load_wh=0),  # second entry for the slot
            SlotForecast(slot=slot + 7, pv_wh=900, load_wh=0),  # not a slot start
        ),
    )
    decision = agent.decide(now, observation)
    assert decision.dropped == 3
    assert [i.energy_wh for i in decision.place] == [500]
    # A result for a slot still open, and a clock stepping back, are dropped too.
    early = SlotResult(slot=slot, fills={decision.place[0].id: 500})
    assert agent.decide(now + 1, observation, [early]).dropped == 4
    assert agent.decide(now - 60, observation).dropped == 1
    assert agent.dropped_total == 8
    assert agent.sold_wh(slot) is None


def test_fills_are_read_from_results() -> None:
    agent = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    slot = MIDNIGHT + 12 * HOUR
    observation = Observation(forecast=(SlotForecast(slot=slot, pv_wh=800, load_wh=0),))
    intent = agent.decide(slot - 1000, observation).place[0]
    too_much = SlotResult(slot=slot, fills={intent.id: 801})
    assert agent.decide(slot - 200, observation, [too_much]).dropped == 1
    assert agent.sold_wh(slot) == 0
    agent2 = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    intent2 = agent2.decide(slot - 1000, observation).place[0]
    assert (
        agent2.decide(
            slot - 200,
            observation,
            [SlotResult(slot=slot, fills={intent2.id: 300, "someone-else:1": 50})],
        ).dropped
        == 0
    )
    assert agent2.sold_wh(slot) == 300


@settings(max_examples=60, deadline=None)
@given(terms=market_terms(), limits=household_limits, seed=st.integers(0, 2**32))
def test_never_over_offers_never_under_asks_and_asks_only_fall(
    terms: CommunityTerms, limits: HouseholdLimits, seed: int
) -> None:
    rng = random.Random(seed)
    agent = PvSellerAgent("pv", terms, limits, horizon_slots=rng.randint(0, 6))
    start, end = ask_bounds(terms, limits, 0)
    cap = limits.max_export_w * terms.slot_s // HOUR
    now = MIDNIGHT + rng.randrange(86_400)
    asks: dict[int, list[int]] = {}
    for _ in range(40):
        now += rng.randint(0, 900)
        slots = terms.open_slots(now, 8)
        if rng.random() < 0.5:
            forecast = tuple(
                SlotForecast(slot=slot, pv_wh=rng.randint(0, 3000), load_wh=rng.randint(0, 800))
                for slot in slots
                if rng.random() < 0.8
            )
            observation = Observation(forecast=forecast)
            surplus = {entry.slot: entry.surplus_wh for entry in forecast}
        else:
            readings = tuple(
                Reading(
                    at=now - rng.randint(0, 1200),
                    export_w=rng.randint(0, 8000),
                    import_w=rng.randint(0, 3000),
                )
                for _ in range(rng.randint(0, 5))
            )
            observation = Observation(readings=readings)
            mean = agent.forecaster.surplus_w(readings, now)
            surplus = dict.fromkeys(slots, mean * terms.slot_s // HOUR)
        decision = agent.decide(now, observation)
        for intent in decision.place:
            assert terms.is_open(intent.slot, now)
            assert 0 < intent.energy_wh <= min(surplus.get(intent.slot, 0), cap)
            assert end <= intent.price <= start
            assert intent.price >= terms.floor
            assert intent.price >= limits.min_sell_price
            asks.setdefault(intent.slot, []).append(intent.price)
        open_live = [i for i in agent.live_intents if terms.is_open(i.slot, now)]
        assert len({i.slot for i in open_live}) == len(open_live)
        for intent in open_live:
            assert intent.energy_wh <= surplus.get(intent.slot, 0)
    for prices in asks.values():
        assert prices == sorted(prices, reverse=True)


def test_the_communitys_late_result_replaces_a_dispute() -> None:
    # Finding 7 of #14: a slot reported disputed, whose quorum's result reached the node
    # later, counts for the agents as it counts in the host's totals.
    agent = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    slot = MIDNIGHT + 12 * HOUR
    observation = Observation(forecast=(SlotForecast(slot=slot, pv_wh=800, load_wh=0),))
    intent = agent.decide(slot - 1000, observation).place[0]
    assert agent.decide(slot - 200, observation, [SlotResult(slot=slot, fills={})]).dropped == 0
    assert agent.sold_wh(slot) == 0
    late = SlotResult(slot=slot, fills={intent.id: 600}, price=1000, late=True)
    assert agent.decide(slot + 300, observation, [late]).dropped == 0
    assert agent.sold_wh(slot) == 600
    # An ordinary second result that disagrees is still dropped.
    again = SlotResult(slot=slot, fills={intent.id: 100})
    assert agent.decide(slot + 400, observation, [again]).dropped == 1
    assert agent.sold_wh(slot) == 600
