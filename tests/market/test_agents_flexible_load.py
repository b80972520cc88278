"""The flexible-load buyer: buys its window's energy, never more, never above its limit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.agents import (
    FlexibleLoadBuyerAgent,
    HouseholdLimits,
    InvalidPowerRangeError,
    InvalidWindowError,
    LoadWindow,
    Observation,
    OrderIntent,
    PvSellerAgent,
    SlotForecast,
    SlotResult,
    bid_bounds,
    daily_windows,
)
from market.auction import ClearingParams, clear
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


def boiler(windows: tuple[LoadWindow, ...], horizon_slots: int = 4) -> FlexibleLoadBuyerAgent:
    """A 2 kW hot-water boiler that will pay up to 1500 ticks (15 c/kWh)."""
    return FlexibleLoadBuyerAgent(
        "boiler",
        TERMS,
        LIMITS,
        power_w=2000,
        max_price=1500,
        windows=windows,
        horizon_slots=horizon_slots,
    )


def test_daily_windows_and_their_checks() -> None:
    windows = daily_windows(
        MIDNIGHT, 2, start_offset_s=22 * HOUR, end_offset_s=30 * HOUR, energy_wh=3000
    )
    assert [(w.start - MIDNIGHT, w.end - MIDNIGHT) for w in windows] == [
        (22 * HOUR, 30 * HOUR),
        (46 * HOUR, 54 * HOUR),
    ]
    with pytest.raises(InvalidWindowError):
        LoadWindow(start=10, end=10, energy_wh=1)
    agent = boiler(windows)
    with pytest.raises(InvalidWindowError):
        agent.add_window(
            LoadWindow(start=MIDNIGHT + 29 * HOUR, end=MIDNIGHT + 31 * HOUR, energy_wh=1)
        )
    with pytest.raises(InvalidPowerRangeError):
        FlexibleLoadBuyerAgent("b", TERMS, LIMITS, power_w=0, max_price=1)


def test_bids_ramp_up_and_spread_over_the_earliest_slots() -> None:
    window = LoadWindow(start=MIDNIGHT + 11 * HOUR, end=MIDNIGHT + 15 * HOUR, energy_wh=1200)
    agent = boiler((window,), horizon_slots=12)
    now = window.start - 2 * HOUR
    first = agent.decide(now)
    # 2 kW x 15 min = 500 Wh per slot: 500 + 500 + 200 in the window's first slots.
    assert [(i.slot - window.start, i.energy_wh, i.price) for i in first.place] == [
        (0, 500, 500),
        (900, 500, 500),
        (1800, 200, 500),
    ]
    prices: dict[int, list[int]] = {}
    for t in range(now, window.start, 60):
        for intent in agent.decide(t).place:
            prices.setdefault(intent.slot, []).append(intent.price)
    # floor + grid fee = 500, then halfway, then the boiler's own limit.
    assert prices[window.start] == [1000, 1500]
    status = agent.status(window.start - 1)[0]
    assert (status.awaiting_wh + status.bid_wh, status.uncovered_wh) == (1200, 0)


def test_a_short_fill_moves_the_rest_to_later_slots() -> None:
    window = LoadWindow(start=MIDNIGHT + 11 * HOUR, end=MIDNIGHT + 15 * HOUR, energy_wh=1200)
    agent = boiler((window,), horizon_slots=8)
    first = {i.slot: i for i in agent.decide(window.start - 1000).place}
    slot = window.start
    result = SlotResult(slot=slot, fills={first[slot].id: 100})
    decision = agent.decide(slot - 200, cleared=[result])
    bids = {i.slot: i.energy_wh for i in agent.live_intents if i.slot > slot}
    assert sum(bids.values()) == 1100
    assert decision.cancel  # the third slot's 200 Wh bid grows to 600
    assert agent.status(slot - 200)[0].bought_wh == 100


def test_seller_and_boiler_trade_through_the_real_auction() -> None:
    slot = MIDNIGHT + 12 * HOUR
    window = LoadWindow(start=slot, end=slot + 900, energy_wh=500)
    buyer = boiler((window,), horizon_slots=1)
    seller = PvSellerAgent("pv", TERMS, LIMITS, horizon_slots=1)
    observation = Observation(forecast=(SlotForecast(slot=slot, pv_wh=800, load_wh=100),))
    params = ClearingParams(floor=TERMS.floor, ceiling=TERMS.ceiling, grid_fee=TERMS.grid_fee)
    gate = TERMS.gate_closure(slot)
    book: dict[str, OrderIntent] = {}
    for now in range(gate - 1800, gate, 60):
        for agent_decision in (seller.decide(now, observation), buyer.decide(now)):
            for intent_id in agent_decision.cancel:
                del book[intent_id]
            book.update({i.id: i for i in agent_decision.place})
    orders = [intent.to_order("household-1") for intent in book.values()]
    result = clear(orders, params)
    # Last levels: ask 400 (+100 fee), bid 1500: 500 Wh trade at the midpoint.
    assert result.volume_wh == 500
    cleared = [SlotResult.from_clearing(slot, result)]
    seller.decide(gate + 30, observation, cleared)
    buyer.decide(gate + 30, cleared=cleared)
    assert seller.sold_wh(slot) == 500
    assert buyer.status(gate + 30)[0].bought_wh == 500


@settings(max_examples=60, deadline=None)
@given(
    terms=market_terms(),
    limits=household_limits,
    power=st.integers(1, 10_000),
    max_price=st.integers(0, 6000),
    seed=st.integers(0, 2**32),
)
def test_never_over_bids_in_energy_or_price(
    terms: CommunityTerms, limits: HouseholdLimits, power: int, max_price: int, seed: int
) -> None:
    rng = random.Random(seed)
    start = MIDNIGHT + rng.randrange(0, 86_400)
    offset = rng.randrange(86_400)
    windows: tuple[LoadWindow, ...] = (
        LoadWindow(
            start=start, end=start + rng.randint(1, 8 * HOUR), energy_wh=rng.randint(0, 20_000)
        ),
    )
    if rng.random() < 0.5:
        windows = daily_windows(
            start - start % 86_400,
            2,
            start_offset_s=offset,
            end_offset_s=offset + rng.randint(1, 86_400),
            energy_wh=rng.randint(0, 20_000),
        )
    agent = FlexibleLoadBuyerAgent(
        "load",
        terms,
        limits,
        power_w=power,
        max_price=max_price,
        windows=windows,
        horizon_slots=rng.randint(0, 8),
    )
    low, high = bid_bounds(terms, limits, max_price, 0)
    cap = min(power, limits.max_import_w) * terms.slot_s // HOUR
    bids: dict[int, list[int]] = {}
    now = start - rng.randint(0, 4 * HOUR)
    answered: set[int] = set()
    for _ in range(50):
        now += rng.randint(1, 1200)
        results = []
        for intent in agent.live_intents:
            if not terms.is_open(intent.slot, now) and intent.slot not in answered:
                answered.add(intent.slot)
                fill = rng.choice((0, intent.energy_wh, rng.randint(0, intent.energy_wh)))
                results.append(SlotResult(slot=intent.slot, fills={intent.id: fill}))
        decision = agent.decide(now, cleared=results)
        assert decision.dropped == 0
        for intent in decision.place:
            assert intent.side is Side.BUY
            assert terms.is_open(intent.slot, now)
            assert 0 < intent.energy_wh <= cap
            assert (
                low <= intent.price <= high <= min(max_price, limits.max_buy_price, terms.ceiling)
            )
            assert any(
                w.start <= intent.slot and intent.slot + terms.slot_s <= w.end
                for w in agent.windows
            )
            bids.setdefault(intent.slot, []).append(intent.price)
        for status in agent.status(now):
            held = status.bought_wh + status.awaiting_wh + status.bid_wh
            assert held <= status.window.energy_wh
    for prices in bids.values():
        assert prices == sorted(prices)
