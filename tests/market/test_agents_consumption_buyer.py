"""The consumption buyer bids the forecast deficit, within the household's limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from market.agents import ConsumptionBuyerAgent, HouseholdLimits, Observation, SlotForecast
from market.tariff import PEAK_OFF_PEAK_TARIFF
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


def test_an_hp_hc_household_never_bids_above_its_off_peak_price_off_peak() -> None:
    # The community's ceiling (1952, the base price) is above the HP/HC off-peak price
    # (1635): bounded by the ceiling alone, the household would buy at night for more
    # than its own grid charges, and lose money.
    limits = HouseholdLimits(
        max_buy_price=1952,
        min_sell_price=400,
        max_import_w=4000,
        max_export_w=0,
        tariff=PEAK_OFF_PEAK_TARIFF,
    )
    agent = ConsumptionBuyerAgent("load", TERMS, limits)
    night = 1_764_025_200  # 2025-11-25 00:00 Paris: off-peak
    noon = night + 12 * 3600
    for now, limit in ((night, 1635), (noon, 1952)):
        slot = TERMS.open_slots(now, 1)[0]
        assert agent.bid_price(slot, TERMS.gate_closure(slot)) == limit
        forecast = Observation(forecast=(SlotForecast(slot=slot, pv_wh=0, load_wh=900),))
        assert {intent.price for intent in agent.decide(now, forecast).place} <= set(
            range(limit + 1)
        )


def test_it_bids_the_demand_it_is_given_rather_than_the_forecast() -> None:
    """A Linky household's expected import (learned from its readings) is its deficit:
    bid as given, capped by the contract; a slot without a guess gets no bid."""
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS)
    first, second, third, _fourth = TERMS.open_slots(NOW, 4)
    observation = Observation(
        demand={first: 420, second: 5000, third + 1: 300},
        forecast=_forecast(load_wh=1500, pv_wh=0).forecast,
    )
    decision = agent.decide(NOW, observation)
    assert {intent.slot: intent.energy_wh for intent in decision.place} == {
        first: 420,
        second: 1000,  # 4 kW x 15 min
    }
    assert decision.dropped == 1  # the unaligned slot
    assert agent.decide(NOW + 1, Observation(demand={})).place == ()


@given(st.dictionaries(st.integers(0, 8), st.integers(0, 10_000)), st.integers(0, 3000))
def test_demand_bids_stay_within_limits(demand: dict[int, int], offset: int) -> None:
    agent = ConsumptionBuyerAgent("load", TERMS, LIMITS)
    first = NOW - NOW % 900
    by_slot = {first + k * 900: wh for k, wh in demand.items()}
    for intent in agent.decide(NOW + offset, Observation(demand=by_slot)).place:
        assert intent.price <= min(LIMITS.max_buy_price, TERMS.ceiling)
        assert 0 < intent.energy_wh <= min(by_slot[intent.slot], 1000)
