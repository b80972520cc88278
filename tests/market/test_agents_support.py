"""Shared strategies and constants of the agents' tests (no tests of its own)."""

from __future__ import annotations

from hypothesis import strategies as st

from market.agents import HouseholdLimits
from market.terms import CommunityTerms

# 2025-11-25 00:00:00 UTC: a Tuesday, aligned to every slot length used here.
MIDNIGHT = 1_764_028_800
HOUR = 3600

TERMS = CommunityTerms(floor=400, ceiling=1952, grid_fee=100)
LIMITS = HouseholdLimits(
    max_buy_price=2500, min_sell_price=300, max_import_w=9000, max_export_w=6000
)


@st.composite
def market_terms(draw: st.DrawFn) -> CommunityTerms:
    """Any consistent terms: slot lengths that divide an hour or are an hour.

    A community's gate closes at least 2 s before its slot, so that it can seal in between.
    """
    floor = draw(st.integers(0, 3000))
    slot_s = draw(st.sampled_from((300, 900, 1800, 3600)))
    gate_lead_s = draw(st.integers(2, 2 * slot_s))
    return CommunityTerms(
        floor=floor,
        ceiling=draw(st.integers(floor, floor + 3000)),
        grid_fee=draw(st.integers(0, 300)),
        slot_s=slot_s,
        gate_lead_s=gate_lead_s,
        seal_margin_s=draw(st.integers(1, gate_lead_s - 1)),
    )


household_limits = st.builds(
    HouseholdLimits,
    max_buy_price=st.integers(0, 5000),
    min_sell_price=st.integers(0, 5000),
    max_import_w=st.integers(0, 36_000),
    max_export_w=st.integers(0, 36_000),
)

# Any "don't trade" hours: up to three (start, end) minutes of the local day.
quiet_windows = st.lists(
    st.tuples(st.integers(0, 1439), st.integers(0, 1439)).filter(lambda w: w[0] != w[1]),
    max_size=3,
).map(tuple)
