"""EV profiles: teleworkers and part-timers plug in at home in daylight, everyone on
some weekend days; sessions of one car never overlap; the driving is still covered."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from market.localtime import local_midnight_utc
from market.sim.ev import (
    AFTERNOON_EARLIEST_MIN,
    SESSION_GAP_S,
    EvProfile,
    EvSessionSpec,
    EvSpec,
    ev_session,
    ev_sessions,
)
from market.sim.household import Household
from market.sim.load import HouseholdKind
from market.sim.neighbourhood import make_neighbourhood

MONDAY = date(2026, 3, 2)
HOUR = 3600


def all_sessions(spec: EvSpec, seed: int, start: date, days: int) -> list[EvSessionSpec]:
    return [s for k in range(days) for s in ev_sessions(spec, seed, start + timedelta(days=k))]


def daytime_weekdays(spec: EvSpec, seed: int, weeks: int) -> list[int]:
    """Per week, the weekdays with a session plugged in from morning to evening."""
    counts = []
    for week in range(weeks):
        days = 0
        for k in range(5):
            day = MONDAY + timedelta(days=7 * week + k)
            noon = local_midnight_utc(day) + 12 * HOUR
            if any(
                s.arrival <= noon < s.departure <= local_midnight_utc(day) + 21 * HOUR
                for s in ev_sessions(spec, seed, day)
            ):
                days += 1
        counts.append(days)
    return counts


def test_the_same_seed_gives_the_same_sessions() -> None:
    for profile in EvProfile:
        spec = EvSpec(profile=profile)
        first = all_sessions(spec, 3, MONDAY, 28)
        assert first == all_sessions(spec, 3, MONDAY, 28)
        assert first != all_sessions(spec, 4, MONDAY, 28)
        # a day asked for alone gives what it gave in the sequence
        day = MONDAY + timedelta(days=17)
        assert ev_sessions(spec, 3, day) == ev_sessions(spec, 3, day)


@settings(max_examples=30, deadline=None)
@given(
    profile=st.sampled_from(EvProfile),
    seed=st.integers(0, 2**48),
    offset=st.integers(0, 3650),
)
def test_the_sessions_of_one_car_never_overlap(profile: EvProfile, seed: int, offset: int) -> None:
    found = all_sessions(EvSpec(profile=profile), seed, date(2024, 1, 1) + timedelta(offset), 21)
    for session in found:
        assert session.arrival < session.departure
        assert session.energy_wh > 0
    for before, after in pairwise(found):
        assert before.departure + SESSION_GAP_S <= after.arrival


def test_a_commuter_is_never_plugged_in_at_noon_on_a_weekday() -> None:
    assert set(daytime_weekdays(EvSpec(), seed=5, weeks=12)) == {0}


def test_a_teleworker_charges_at_home_on_two_or_three_weekdays_a_week() -> None:
    weeks = daytime_weekdays(EvSpec(profile=EvProfile.TELEWORKER), seed=5, weeks=12)
    assert max(weeks) <= 3
    # a daytime session is dropped only when the night before left it under two hours
    assert sum(weeks) >= 2 * 12
    assert 3 in weeks


def test_a_part_timer_comes_home_in_the_early_afternoon_on_two_weekdays() -> None:
    spec = EvSpec(profile=EvProfile.PART_TIME)
    for week in range(12):
        afternoons = 0
        for k in range(5):
            day = MONDAY + timedelta(days=7 * week + k)
            session = ev_session(spec, 8, day)
            midnight = local_midnight_utc(day)
            if session is not None and session.arrival < midnight + 16 * HOUR:
                assert session.arrival >= midnight + AFTERNOON_EARLIEST_MIN * 60
                afternoons += 1
        assert afternoons == 2  # always plugged in on an afternoon at home


def test_every_profile_stays_home_on_some_weekend_days() -> None:
    for profile in EvProfile:
        spec = EvSpec(profile=profile)
        home = 0
        for week in range(52):
            for k in (5, 6):
                day = MONDAY + timedelta(days=7 * week + k)
                noon = local_midnight_utc(day) + 13 * HOUR
                home += any(s.arrival <= noon < s.departure for s in ev_sessions(spec, 9, day))
        assert 0.25 * 104 <= home <= 0.55 * 104  # WEEKEND_HOME_DAY_SHARE is 0.4


def test_every_profile_still_covers_the_driving() -> None:
    for profile in EvProfile:
        spec = EvSpec(profile=profile, daily_km=40, wh_per_km=180)
        per_day = sum(s.energy_wh for s in all_sessions(spec, 2, MONDAY, 280)) / 280
        assert 0.85 * 40 * 180 < per_day < 1.15 * 40 * 180


def test_the_household_finds_its_daytime_session() -> None:
    spec = EvSpec(profile=EvProfile.TELEWORKER)
    home = Household(id="h", kind=HouseholdKind.FAMILY_HOUSE, seed=6, ev=spec)
    day = next(
        MONDAY + timedelta(days=k)
        for k in range(56)
        if len(ev_sessions(spec, 6, MONDAY + timedelta(days=k))) == 2
    )
    daytime, evening = home.ev_sessions(day)
    assert home.ev_session_at(daytime.arrival) == daytime
    assert home.ev_session_at(daytime.departure) is None
    assert home.ev_session_at(evening.arrival) == evening
    assert home.ev_session(day) == evening


def test_the_neighbourhood_gives_its_cars_the_documented_profiles() -> None:
    homes = make_neighbourhood(400, seed=1, ev_share=0.5)
    profiles = Counter(h.ev.profile for h in homes if h.ev is not None)
    assert profiles == {EvProfile.COMMUTER: 100, EvProfile.TELEWORKER: 70, EvProfile.PART_TIME: 30}
    small = Counter(h.ev.profile for h in make_neighbourhood(50, seed=1) if h.ev is not None)
    assert small == {EvProfile.COMMUTER: 6, EvProfile.TELEWORKER: 4, EvProfile.PART_TIME: 2}


def test_a_profile_changes_when_the_car_is_home_never_the_car_or_the_load() -> None:
    few = {h.id: h for h in make_neighbourhood(30, seed=4, ev_share=0.2)}
    many = {h.id: h for h in make_neighbourhood(30, seed=4, ev_share=0.9)}
    for home_id, home in few.items():
        other = many[home_id]
        assert (home.kind, home.seed, home.pv, home.tariff) == (
            other.kind,
            other.seed,
            other.pv,
            other.tariff,
        )
        if home.ev is not None and other.ev is not None:
            assert home.ev.battery_wh == other.ev.battery_wh
            assert home.ev.daily_km == other.ev.daily_km


def test_a_car_at_home_in_daylight_tops_up_on_surplus_only_and_the_next_session_needs_less() -> (
    None
):
    spec = EvSpec(profile=EvProfile.TELEWORKER)
    sessions = all_sessions(spec, seed=5, start=MONDAY, days=14)
    daytime = [s for s in sessions if s.surplus_only_wh > 0]
    assert daytime, "a teleworker has daytime sessions"
    driving_2_days = spec.daily_km * spec.wh_per_km * 2
    assert all(s.surplus_only_wh <= driving_2_days for s in daytime)
    assert all(s.surplus_only_wh == 0 for s in sessions if s not in daytime)
    top_up = daytime[0]
    agent_session = top_up.to_agent_session(1900)
    # what it needs, plus the top-up the grid never charges
    assert agent_session.energy_wh == top_up.energy_wh + top_up.surplus_only_wh
    assert agent_session.surplus_only_wh == top_up.surplus_only_wh
    # 3 kWh banked by earlier top-ups: this session needs 3 kWh less
    evening = next(s for s in sessions if s.surplus_only_wh == 0 and s.energy_wh > 3000)
    assert evening.to_agent_session(1900, banked_wh=3000).energy_wh == evening.energy_wh - 3000
    assert evening.to_agent_session(1900, banked_wh=10**6).energy_wh == 0
