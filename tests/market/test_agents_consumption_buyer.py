"""The consumption buyer bids the forecast deficit, within the household's limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from market.agents import ConsumptionBuyerAgent, HouseholdLimits, Observation, SlotForecast
from market.terms import CommunityTerms

TERMS = CommunityTerms(floor=400, ceiling=1952)
LIMITS = HouseholdLimits(max_buy_price=1800, min_sell_price=400, max_import_w=4000, max_export_w=0)
NOW = 1_800_000_000 - 1_800_000_000 % 900


def _forecast(load_wh: int, pv_wh: int, count: int = 6) -> Observation:
    first = NOW - NOW % 900
    return Observation(
        forecast=tuple(
            SlotForecast(slot=first + i * 900, pv_wh=pv_wh, load_wh=load_wh) for i in range(count)
        )
    )


def test_it_bids_the_deficit_of_the_open_slots_capped_by_the_contract() -> None:
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS)
    decision = agent.decide(NOW, _forecast(load_wh=1500, pv_wh=200))
    open_slots = set(TERMS.open_slots(NOW, 4))
    assert {intent.slot for intent in decision.place} == open_slots
    assert {intent.energy_wh for intent in decision.place} == {1000}  # 4 kW x 15 min
    assert all(400 <= intent.price <= 1800 for intent in decision.place)


def test_no_deficit_or_no_forecast_means_no_bid() -> None:
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS)
    assert agent.decide(NOW, _forecast(load_wh=200, pv_wh=900)).place == ()
    assert agent.decide(NOW + 1, Observation()).place == ()


def test_the_bid_rises_towards_the_limit_as_the_gate_nears() -> None:
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS)
    slot = TERMS.open_slots(NOW, 4)[-1]
    early = agent.bid_price(slot, NOW)
    late = agent.bid_price(slot, TERMS.gate_closure(slot) - 1)
    assert early < late <= 1800


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 3000))
def test_never_above_limits(load_wh: int, pv_wh: int, offset: int) -> None:
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS)
    decision = agent.decide(NOW + offset, _forecast(load_wh, pv_wh))
    for intent in decision.place:
        assert intent.price <= min(LIMITS.max_buy_price, TERMS.ceiling)
        assert 0 < intent.energy_wh <= min(max(0, load_wh - pv_wh), 1000)
