"""A solar forecast of the household's own PV: its periods become slots, and the PV
seller offers further ahead, following the forecast's change from the measured
surplus, never more than the forecast says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from market.agents import Observation, PvSellerAgent, Reading, slot_production
from tests.market.test_agents_support import HOUR, LIMITS, MIDNIGHT, TERMS

SLOT = TERMS.slot_s


def test_hourly_and_half_hourly_periods_are_spread_over_the_slots() -> None:
    ten = MIDNIGHT + 10 * HOUR
    slots = [ten + i * SLOT for i in range(10)]
    # forecast.solar: Wh per hour
    hourly = slot_production({ten: 2000, ten + HOUR: 3000}, slots, SLOT)
    assert hourly == dict(zip(slots[:8], [500] * 4 + [750] * 4, strict=True))
    # Solcast: half hours; the last period runs `period_s`
    half = slot_production({ten: 1000, ten + 1800: 301}, slots, SLOT, period_s=1800)
    assert half == {slots[0]: 500, slots[1]: 500, slots[2]: 150, slots[3]: 150}
    # a damaged forecast: a negative value, a period longer than a day
    assert slot_production({ten: -5, ten + 3 * 86_400: 10}, slots, SLOT) == {}


@given(
    st.dictionaries(
        st.integers(0, 40).map(lambda k: MIDNIGHT + k * 1800),
        st.integers(0, 20_000),
        max_size=30,
    )
)
def test_the_slots_never_get_more_than_the_forecast_says(periods: dict[int, int]) -> None:
    slots = [MIDNIGHT + i * SLOT for i in range(100)]
    found = slot_production(periods, slots, SLOT, period_s=1800)
    assert all(wh >= 0 for wh in found.values())
    total = sum(periods.values())
    # a period runs until the next starts; each slot it covers loses under a Wh
    starts = sorted(periods)
    ends = [*starts[1:], starts[-1] + 1800] if starts else []
    covered = sum((end - start) // SLOT for start, end in zip(starts, ends, strict=True))
    assert total - covered <= sum(found.values()) <= total


def test_the_pv_seller_follows_the_forecast_from_the_measured_surplus() -> None:
    now = MIDNIGHT + 12 * HOUR + 100
    readings = (
        Reading(at=now - 600, export_w=3000, import_w=600),
        Reading(at=now - 10, export_w=3200, import_w=400),
    )  # 2600 W of surplus: 650 Wh a slot
    noon = MIDNIGHT + 12 * HOUR
    forecast = {noon: 1000, noon + SLOT: 1100, noon + 2 * SLOT: 1000, noon + 3 * SLOT: 900}
    forecast[noon + 4 * SLOT] = 400  # a cloud
    agent = PvSellerAgent("pv", TERMS, LIMITS)
    decision = agent.decide(now, Observation(readings=readings, pv_forecast=forecast))
    offers = {intent.slot: intent.energy_wh for intent in decision.place}
    # 8 slots ahead; the forecast's change from now moves the surplus, 5 % less per
    # slot ahead; past the forecast, persistence derated 10 % per slot
    assert offers == {
        noon + SLOT: 750,  # (650 + 100) x 100 %
        noon + 2 * SLOT: 617,  # 650 x 95 %
        noon + 3 * SLOT: 495,  # (650 - 100) x 90 %
        noon + 4 * SLOT: 42,  # (650 - 600) x 85 %
        noon + 5 * SLOT: 390,  # no forecast: 650 x 60 %
        noon + 6 * SLOT: 325,
        noon + 7 * SLOT: 260,
        noon + 8 * SLOT: 195,
    }
    # Without the forecast: the 4 slots of persistence, as before.
    plain = PvSellerAgent("pv", TERMS, LIMITS).decide(now, Observation(readings=readings))
    assert [intent.energy_wh for intent in plain.place] == [650, 585, 520, 455]


def test_an_optimistic_forecast_cannot_offer_what_the_meter_does_not_see() -> None:
    """At night, or under a cloud the forecast missed, the measured surplus is nil:
    the forecast only moves it, so an unchanged forecast offers nothing."""
    now = MIDNIGHT + 12 * HOUR + 100
    readings = (Reading(at=now - 10, export_w=0, import_w=300),)
    noon = MIDNIGHT + 12 * HOUR
    forecast = {noon + k * SLOT: 1000 for k in range(9)}
    agent = PvSellerAgent("pv", TERMS, LIMITS)
    assert agent.decide(now, Observation(readings=readings, pv_forecast=forecast)).place == ()
