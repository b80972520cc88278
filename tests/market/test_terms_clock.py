"""One slot clock: the community's terms say when every gate closes and every seal is due."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from market.terms import CommunityTerms


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
def test_gates_open_slots_and_seals_follow_one_clock(
    terms: CommunityTerms, now: int, ahead: int
) -> None:
    slot = terms.slot_of(now) + ahead * terms.slot_s
    assert slot % terms.slot_s == 0
    assert terms.is_open(slot, now) == (now < terms.gate_closure(slot) == slot - terms.gate_lead_s)
    first = terms.first_open_slot(now)
    assert terms.is_open(first, now) and not terms.is_open(first - terms.slot_s, now)
    assert terms.open_slots(now, 3) == (first, first + terms.slot_s, first + 2 * terms.slot_s)
    assert terms.seal_time(slot) == terms.gate_closure(slot) + terms.seal_margin_s < slot


def test_the_descriptor_still_starts_with_the_clock() -> None:
    # The clock's fields are the descriptor's first two, as before the types were merged.
    assert CommunityTerms().to_bytes()[:8] == (900).to_bytes(4, "big") + (300).to_bytes(4, "big")
    assert CommunityTerms.LAYOUT.size == 44
