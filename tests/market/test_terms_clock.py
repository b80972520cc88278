"""One slot clock: the node's terms and the agents' view of them close every gate alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from market.agents import MarketTerms
from market.terms import CommunityTerms, SlotClock


@st.composite
def community_terms(draw: st.DrawFn) -> CommunityTerms:
    slot_s = draw(st.sampled_from((300, 900, 1800, 3600)))
    gate_lead_s = draw(st.integers(2, 2 * slot_s))
    return CommunityTerms(
        slot_s=slot_s,
        gate_lead_s=gate_lead_s,
        seal_margin_s=draw(st.integers(1, gate_lead_s - 1)),
    )


@given(community_terms(), st.integers(0, 4_000_000_000), st.integers(0, 10))
def test_the_agents_view_keeps_the_community_clock(
    terms: CommunityTerms, now: int, ahead: int
) -> None:
    view = MarketTerms.of_community(terms)
    slot = terms.slot_of(now) + ahead * terms.slot_s
    assert isinstance(view, SlotClock) and isinstance(terms, SlotClock)
    assert view.gate_closure(slot) == terms.gate_closure(slot)
    assert view.is_open(slot, now) == terms.is_open(slot, now) == (now < terms.gate_closure(slot))
    assert view.open_slots(now, 3) == terms.open_slots(now, 3)
    assert terms.open_slots(now, 1) == (terms.first_open_slot(now),)
    assert terms.seal_time(slot) == terms.gate_closure(slot) + terms.seal_margin_s


def test_the_descriptor_still_starts_with_the_clock() -> None:
    # The clock's fields are still the terms' first two; the encoding is unchanged.
    assert CommunityTerms().to_bytes()[:8] == (900).to_bytes(4, "big") + (300).to_bytes(4, "big")
    assert CommunityTerms.LAYOUT.size == 44
