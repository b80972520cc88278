"""Green certificates: one per verified MWh delivered to neighbours, the same on every
node."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.model import Side
from market.settlement.certificates import (
    CERTIFICATE_WH,
    Certificate,
    Deliveries,
    certificates_of,
    issue,
    proof_of,
)
from market.settlement.records import SettledSlot, SettleState
from tests.market.settled_slots import HOUSEHOLDS, SLOT_S, Trade, settled

P, Q, C = HOUSEHOLDS[0], HOUSEHOLDS[1], HOUSEHOLDS[2]
T0 = 1_750_000_500 - 1_750_000_500 % SLOT_S


def sale(slot: int, wh: int, state: SettleState | None = None, seller: str = P) -> SettledSlot:
    """`seller` exported `wh` and sold it all to C, who imported it."""
    return settled(
        slot,
        {seller: (0, wh), C: (wh, 0)},
        [Trade(C, Side.BUY, wh, 1000), Trade(seller, Side.SELL, wh, 1000)],
        state,
    )


def test_each_mwh_earns_a_certificate_and_a_straddling_slot_proves_both() -> None:
    slots = [sale(T0 + i * SLOT_S, 400_000) for i in range(5)]
    first, second = certificates_of(slots, P)
    hashes = [s.result_hash for s in slots]
    assert first == Certificate(
        producer=P, serial=1, first_slot=T0, last_slot=T0 + 2 * SLOT_S, proof=proof_of(hashes[:3])
    )
    # slot 2's 400 kWh: 200 finish the first MWh, 200 start the second
    assert (second.serial, second.first_slot, second.last_slot) == (
        2,
        T0 + 2 * SLOT_S,
        T0 + 4 * SLOT_S,
    )
    assert second.proof == proof_of(hashes[2:5])
    assert second.wh == CERTIFICATE_WH
    assert second.to_json_obj()["proof"] == second.proof.hex()


def test_a_certificate_completed_at_a_slot_end_leaves_the_next_slot_to_the_next() -> None:
    slots = [sale(T0 + i * SLOT_S, 500_000) for i in range(3)]
    (only,) = certificates_of(slots, P)
    assert (only.first_slot, only.last_slot) == (T0, T0 + SLOT_S)
    assert Deliveries.of(slots).before(P, T0 + 3 * SLOT_S) % CERTIFICATE_WH == 500_000


def test_nothing_is_issued_for_disputed_or_unverified_slots() -> None:
    slots = [
        sale(T0, 600_000),
        sale(T0 + SLOT_S, 900_000, SettleState.DISPUTED),
        settled(T0 + 2 * SLOT_S, {P: (0, 900_000)}),  # exported, sold to no one: NO_TRADES
        sale(T0 + 3 * SLOT_S, 300_000),
    ]
    assert certificates_of(slots, P) == ()
    assert Deliveries.of(slots).before(P, T0 + 4 * SLOT_S) == 900_000
    slots.append(sale(T0 + 4 * SLOT_S, 100_000))
    (only,) = certificates_of(slots, P)
    assert only.proof == proof_of(
        [slots[0].result_hash, slots[3].result_hash, slots[4].result_hash]
    )


def test_a_buyer_earns_nothing_and_every_producer_counts_apart() -> None:
    slots = [sale(T0 + i * SLOT_S, 700_000, seller=P if i % 2 else Q) for i in range(4)]
    issued = issue(slots)
    assert set(issued) == {P, Q}
    assert [c.serial for c in issued[P]] == [1]
    assert [c.serial for c in issued[Q]] == [1]
    assert C not in issued


def test_a_slot_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        issue([sale(T0, 10), sale(T0, 20)])


def test_a_big_slot_completes_several_certificates_at_once() -> None:
    slot = sale(T0, 2_500_000)
    certificates = certificates_of([slot], P)
    assert [(c.serial, c.first_slot, c.last_slot) for c in certificates] == [
        (1, T0, T0),
        (2, T0, T0),
    ]
    assert Deliveries.of([slot]).before(P, T0 + SLOT_S) == 2_500_000


deliveries = st.lists(
    st.tuples(
        st.integers(0, 200),
        st.integers(1, 800_000),
        st.sampled_from([None, SettleState.DISPUTED]),
        st.sampled_from(HOUSEHOLDS[:2]),
    ),
    max_size=30,
    unique_by=lambda d: d[0],
)


@settings(max_examples=150, deadline=None)
@given(deliveries, st.randoms(use_true_random=False))
def test_every_node_derives_the_same_certificates_counted_like_statements(
    drawn: list[tuple[int, int, SettleState | None, str]], rng: random.Random
) -> None:
    slots = [sale(T0 + i * SLOT_S, wh, state, seller) for i, wh, state, seller in drawn]
    shuffled = list(slots)
    rng.shuffle(shuffled)
    assert issue(shuffled) == issue(slots)
    index = Deliveries.of(shuffled)
    for producer, certificates in issue(slots).items():
        assert [c.serial for c in certificates] == list(range(1, len(certificates) + 1))
        for t in {s.slot for s in slots} | {T0 + 201 * SLOT_S}:
            done = sum(c.last_slot < t for c in certificates)
            assert done == index.before(producer, t) // CERTIFICATE_WH
        for c in certificates:
            contributing = [
                s.result_hash
                for s in sorted(slots, key=lambda s: s.slot)
                if c.first_slot <= s.slot <= c.last_slot
                and s.state is SettleState.FINAL
                and s.row(producer) is not None
            ]
            assert c.proof == proof_of(contributing)
