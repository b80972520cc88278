"""Time the agents' decisions: how many `decide` calls per second one core makes.

A node calls each agent every few seconds to every minute, so these figures say how
many households (or simulated households) one core can drive. Prints
`BENCH <name> <value> <unit>` lines on stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from market.agents import (
    EvChargingAgent,
    EvSession,
    FlexibleLoadBuyerAgent,
    HouseholdLimits,
    LoadWindow,
    Observation,
    PvSellerAgent,
    SlotForecast,
    SlotResult,
    plan_ev,
)
from market.terms import CommunityTerms

MIDNIGHT = 1_764_028_800
HOUR = 3600
TERMS = CommunityTerms(floor=400, ceiling=1952, grid_fee=100)
LIMITS = HouseholdLimits(
    max_buy_price=2500, min_sell_price=300, max_import_w=9000, max_export_w=6000
)
STEP_S = 60


def rate(name: str, calls: int, run: Callable[[], None], repeat: int = 5) -> None:
    """Run `run` (which makes `calls` calls) `repeat` times; print the best calls/s."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    print(f"BENCH {name} {calls / best:.0f} calls/s")
    print(f"{name}: {calls} calls in {best:.3f} s (best of {repeat})", file=sys.stderr)


def pv_day() -> tuple[int, Callable[[], None]]:
    """A PV seller through a whole day, called every minute, with a day-long forecast."""
    forecast = tuple(
        SlotForecast(slot=slot, pv_wh=(slot - MIDNIGHT) % 86_400 // 100, load_wh=150)
        for slot in range(MIDNIGHT, MIDNIGHT + 86_400, 900)
    )
    observation = Observation(forecast=forecast)
    times = range(MIDNIGHT, MIDNIGHT + 86_400, STEP_S)

    def run() -> None:
        agent = PvSellerAgent("pv", TERMS, LIMITS)
        for now in times:
            agent.decide(now, observation)

    return len(times), run


def boiler_day() -> tuple[int, Callable[[], None]]:
    """A boiler buying 3 kWh between 10:00 and 16:00, half of each bid filled."""
    window = LoadWindow(start=MIDNIGHT + 10 * HOUR, end=MIDNIGHT + 16 * HOUR, energy_wh=3000)
    times = range(MIDNIGHT, MIDNIGHT + 86_400, STEP_S)

    def run() -> None:
        agent = FlexibleLoadBuyerAgent(
            "boiler", TERMS, LIMITS, power_w=2000, max_price=1500, windows=(window,)
        )
        answered: set[int] = set()
        for now in times:
            results = []
            for intent in agent.live_intents:
                if not TERMS.is_open(intent.slot, now) and intent.slot not in answered:
                    answered.add(intent.slot)
                    fill = {intent.id: intent.energy_wh // 2}
                    results.append(SlotResult(slot=intent.slot, fills=fill))
            agent.decide(now, cleared=results)

    return len(times), run


def ev_night(horizon: int) -> tuple[int, Callable[[], None]]:
    """An EV from 18:00 to 07:00 with expected prices; every bid fills a third."""
    departure = MIDNIGHT + 31 * HOUR
    prices = {slot: 1100 + (slot // 900) % 7 * 100 for slot in range(MIDNIGHT, departure, 900)}
    observation = Observation(expected_prices=prices)
    times = range(MIDNIGHT + 18 * HOUR, departure + 60, STEP_S)

    def run() -> None:
        session = EvSession(
            energy_wh=40_000,
            departure=departure,
            max_price=1500,
            min_power_w=1400,
            max_power_w=7400,
        )
        agent = EvChargingAgent("ev", TERMS, LIMITS, session, horizon_slots=horizon)
        answered: set[int] = set()
        for now in times:
            results = []
            for intent in agent.live_intents:
                if not TERMS.is_open(intent.slot, now) and intent.slot not in answered:
                    answered.add(intent.slot)
                    fill = {intent.id: intent.energy_wh // 3}
                    results.append(SlotResult(slot=intent.slot, fills=fill))
            agent.decide(now, observation, results)

    return len(times), run


def plan_week() -> tuple[int, Callable[[], None]]:
    """`plan_ev` alone over a 7-day session (672 slots), 200 times."""
    session = EvSession(
        energy_wh=60_000,
        departure=MIDNIGHT + 7 * 86_400,
        max_price=1500,
        min_power_w=1400,
        max_power_w=7400,
    )
    prices = {
        slot: 900 + (slot // 900) % 11 * 100 for slot in range(MIDNIGHT, session.departure, 900)
    }
    calls = 200

    def run() -> None:
        for _ in range(calls):
            plan_ev(
                now=MIDNIGHT,
                session=session,
                terms=TERMS,
                max_power_w=7400,
                bid_limit=1500,
                expected_prices=prices,
            )

    return calls, run


def main() -> None:
    """Run every bench once."""
    rate("agents_pv_seller_decide", *pv_day())
    rate("agents_flexible_load_decide", *boiler_day())
    rate("agents_ev_decide_horizon4", *ev_night(4))
    rate("agents_ev_decide_horizon52", *ev_night(52))
    rate("agents_ev_plan_week", *plan_week())


if __name__ == "__main__":
    main()
