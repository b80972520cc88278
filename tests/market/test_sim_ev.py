"""EV sessions: evening arrivals, morning departures, the energy the driving needs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from market.agents import EvSession
from market.localtime import local_hour, local_midnight_utc
from market.sim.ev import EvSessionSpec, EvSpec, InvalidEvSpecError, ev_session
from market.sim.household import Household
from market.sim.load import HouseholdKind

MONDAY = date(2025, 3, 3)


def sessions(spec: EvSpec, seed: int, days: int) -> list[tuple[date, EvSessionSpec]]:
    out = []
    for k in range(days):
        day = MONDAY + timedelta(days=k)
        session = ev_session(spec, seed, day)
        if session is not None:
            out.append((day, session))
    return out


def test_cars_come_home_in_the_evening_and_leave_the_next_morning() -> None:
    spec = EvSpec()
    found = sessions(spec, seed=1, days=56)
    assert 25 <= len(found) <= 50
    for day, session in found:
        assert local_midnight_utc(day) + 16 * 3600 <= session.arrival
        assert session.arrival < local_midnight_utc(day + timedelta(days=1))
        assert 5 <= local_hour(session.departure) <= 11
        assert session.departure - session.arrival >= 7 * 3600
        assert 0 < session.energy_wh <= spec.battery_wh * 8 // 10
        assert session.max_power_w == spec.charger_power_w


def test_the_sessions_cover_the_driving() -> None:
    spec = EvSpec(daily_km=40, wh_per_km=180)
    found = sessions(spec, seed=2, days=140)
    per_day = sum(s.energy_wh for _, s in found) / 140
    assert 0.8 * 40 * 180 < per_day < 1.25 * 40 * 180


def test_sessions_are_deterministic_per_seed_and_day() -> None:
    spec = EvSpec()
    assert sessions(spec, seed=3, days=14) == sessions(spec, seed=3, days=14)
    assert sessions(spec, seed=3, days=14) != sessions(spec, seed=4, days=14)


def test_uncontrolled_charging_runs_at_full_power_from_arrival_until_full() -> None:
    session = EvSessionSpec(
        arrival=1_000_000,
        departure=1_040_000,
        energy_wh=4_000,
        min_power_w=1_400,
        max_power_w=7_400,
    )
    charged = [session.uncontrolled_wh(1_000_000 - 900 + k * 900, 900) for k in range(50)]
    assert charged[0] == 0
    assert charged[1] == 7_400 * 900 // 3600
    assert sum(charged) == 4_000
    assert session.uncontrolled_wh(1_040_000, 900) == 0


def test_a_session_becomes_an_agent_session() -> None:
    session = EvSessionSpec(
        arrival=0, departure=36_000, energy_wh=9_000, min_power_w=1_400, max_power_w=3_700
    )
    agent = session.to_agent_session(1_800)
    assert agent == EvSession(
        energy_wh=9_000, departure=36_000, max_price=1_800, min_power_w=1_400, max_power_w=3_700
    )


def test_the_session_plugged_in_at_a_moment_is_found_across_midnight() -> None:
    home = Household(id="h", kind=HouseholdKind.FAMILY_HOUSE, seed=6, ev=EvSpec())
    day, session = next((d, s) for d, s in sessions(EvSpec(), 6, 14))
    assert session == home.ev_session(day)
    assert home.ev_session_at(session.arrival) == session
    assert home.ev_session_at(local_midnight_utc(day + timedelta(days=1)) + 3600) == session
    assert home.ev_session_at(session.departure) != session
    assert home.ev_session_at(session.arrival - 1) is None


def test_a_household_without_a_car_has_no_session() -> None:
    assert Household(id="h", kind=HouseholdKind.APARTMENT, seed=1).ev_session(MONDAY) is None
    with_car = Household(id="h", kind=HouseholdKind.APARTMENT, seed=1, ev=EvSpec())
    assert with_car.ev_session(MONDAY) == ev_session(EvSpec(), 1, MONDAY)


@pytest.mark.parametrize(
    "fields",
    [
        {"charger_power_w": 0},
        {"min_power_w": 8_000},
        {"plug_in_permille": 1_001},
        {"arrival_min": 24 * 60},
        {"daily_km": 3.5},
    ],
)
def test_invalid_ev_specs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidEvSpecError):
        EvSpec(**fields)  # type: ignore[arg-type]
