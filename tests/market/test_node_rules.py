"""The rules every node applies identically: the order set of a slot and finality."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from market.ledger.codec import decode_entry
from market.ledger.equivocation import EquivocationProof
from market.ledger.kinds import CancelBody, Kind, OrderBody, SealBody, Side
from market.node.finality import HeldSeal, SlotState, is_quorum, judge
from market.node.index import MarketIndex, OrderStatus, order_root
from market.terms import CommunityTerms
from tests.market.ledger_helpers import T0_MS, ChainWriter, community_of, identities

TERMS = CommunityTerms()
SLOT = (T0_MS // 1000 // 900 + 4) * 900
GATE_MS = (SLOT - TERMS.gate_lead_s) * 1000


def _setup(count: int = 2) -> tuple[MarketIndex, list[ChainWriter]]:
    ids = identities(count)
    community = community_of(ids)
    index = MarketIndex(TERMS, community.genesis_members, community.created_ms)
    return index, [ChainWriter(identity, community) for identity in ids]


def _order(writer: ChainWriter, ts: int, *, expires_s: int = 0) -> bytes:
    body = OrderBody(SLOT, Side.SELL, 500, 900, expires_s).encode()
    return writer.frame(body, Kind.ORDER, ts=ts)


def _statuses(index: MarketIndex) -> list[OrderStatus]:
    return [status for _order, status in index.book(SLOT)]


def test_an_order_timestamped_at_the_gate_closure_is_late() -> None:
    index, (writer, _other) = _setup()
    index.add([decode_entry(_order(writer, GATE_MS - 1)), decode_entry(_order(writer, GATE_MS))])
    assert _statuses(index) == [OrderStatus.LIVE, OrderStatus.LATE]
    assert len(index.order_set(SLOT)) == 1


def test_only_the_authors_cancel_before_the_gate_withdraws_an_order() -> None:
    index, (writer, other) = _setup()
    first = decode_entry(_order(writer, GATE_MS - 10_000))
    second = decode_entry(_order(writer, GATE_MS - 9_000))
    index.add([first, second])
    foreign = decode_entry(
        other.frame(CancelBody(first.hash).encode(), Kind.CANCEL, ts=GATE_MS - 5)
    )
    late = decode_entry(writer.frame(CancelBody(second.hash).encode(), Kind.CANCEL, ts=GATE_MS))
    index.add([foreign, late])
    assert _statuses(index) == [OrderStatus.LIVE, OrderStatus.LIVE]
    own = decode_entry(writer.frame(CancelBody(first.hash).encode(), Kind.CANCEL, ts=GATE_MS + 1))
    index.add([own])  # after the gate: too late as well
    assert _statuses(index) == [OrderStatus.LIVE, OrderStatus.LIVE]


def test_a_cancel_arriving_before_its_order_still_counts() -> None:
    index, (writer, _other) = _setup()
    order = decode_entry(_order(writer, GATE_MS - 10_000))
    cancel = decode_entry(
        writer.frame(CancelBody(order.hash).encode(), Kind.CANCEL, ts=GATE_MS - 5_000)
    )
    index.add([cancel])
    index.add([order])
    assert _statuses(index) == [OrderStatus.CANCELLED]


def test_an_order_expiring_before_the_gate_is_excluded() -> None:
    index, (writer, _other) = _setup()
    gate_s = GATE_MS // 1000
    index.add(
        [
            decode_entry(_order(writer, GATE_MS - 9_000, expires_s=gate_s)),
            decode_entry(_order(writer, GATE_MS - 8_000, expires_s=gate_s + 1)),
        ]
    )
    assert _statuses(index) == [OrderStatus.EXPIRED, OrderStatus.LIVE]


def test_an_equivocating_author_loses_its_orders_and_its_vote() -> None:
    index, (cheat, honest) = _setup()
    a = decode_entry(_order(cheat, GATE_MS - 9_000))
    b = decode_entry(cheat.frame(OrderBody(SLOT, Side.BUY, 1, 1).encode(), seq=1, advance=False))
    proof = EquivocationProof.from_entries(a, b)
    honest_order = decode_entry(_order(honest, GATE_MS - 8_000))
    update = index.add([a, honest_order])
    assert not update.equivocators
    update = index.add([decode_entry(honest.frame(proof.encode(), Kind.EQUIVOCATION))])
    assert update.equivocators == ((cheat.identity.public_key, 1),)
    assert [o.author for o in index.order_set(SLOT)] == [honest.identity.public_key]
    assert cheat.identity.public_key not in index.electorate(SLOT)


def test_an_equivocators_orders_are_void_only_in_the_affected_slots() -> None:
    index, (cheat, honest) = _setup()
    earlier = SLOT - TERMS.slot_s  # its closing period holds the conflict

    def at(s: int) -> int:
        return s * 1000

    # the cheater's chain: an order for the earlier slot, a seal, then twins at seq 3 for SLOT
    # signed during the earlier slot's closing, then one more order for SLOT
    first = decode_entry(
        cheat.frame(OrderBody(earlier, Side.SELL, 400, 900).encode(), ts=at(SLOT - 3000))
    )
    # both seal a past slot within the activity windows of both slots: they vote there
    sealed = SealBody(SLOT - 2700, bytes(32), bytes(32)).encode()
    cheat_seal = decode_entry(cheat.frame(sealed, Kind.SEAL, ts=at(SLOT - 2500)))
    twin_a = decode_entry(
        cheat.frame(OrderBody(SLOT, Side.SELL, 500, 900).encode(), ts=at(SLOT - 1100))
    )
    twin_b = decode_entry(
        cheat.frame(
            OrderBody(SLOT, Side.BUY, 1, 1).encode(),
            seq=3,
            prev=cheat_seal.hash,
            ts=at(SLOT - 1050),
            advance=False,
        )
    )
    later = decode_entry(
        cheat.frame(OrderBody(SLOT, Side.SELL, 600, 900).encode(), ts=at(SLOT - 1000))
    )
    bid = decode_entry(
        honest.frame(OrderBody(SLOT, Side.BUY, 600, 1000).encode(), ts=at(SLOT - 2999))
    )
    honest_seal = decode_entry(honest.frame(sealed, Kind.SEAL, ts=at(SLOT - 2500)))
    index.add([first, cheat_seal, twin_a, later, bid, honest_seal])
    proof = EquivocationProof.from_entries(twin_a, twin_b)
    index.add([decode_entry(honest.frame(proof.encode(), Kind.EQUIVOCATION, ts=at(SLOT - 900)))])

    # the earlier slot closed while the cheater was forked: no order, no vote there
    assert index.affected(cheat.identity.public_key, earlier)
    assert [status for _o, status in index.book(earlier)] == [OrderStatus.EQUIVOCATOR]
    assert index.electorate(earlier) == {honest.identity.public_key}
    # SLOT closes after the conflict: the twin is void, the later order trades
    assert not index.affected(cheat.identity.public_key, SLOT)
    statuses = {order.hash: status for order, status in index.book(SLOT)}
    assert statuses == {
        twin_a.hash: OrderStatus.EQUIVOCATOR,
        later.hash: OrderStatus.LIVE,
        bid.hash: OrderStatus.LIVE,
    }
    assert cheat.identity.public_key in index.electorate(SLOT)


@given(st.lists(st.binary(min_size=32, max_size=32), unique=True), st.randoms())
def test_the_order_root_ignores_arrival_order(hashes: list[bytes], rng: random.Random) -> None:
    shuffled = list(hashes)
    rng.shuffle(shuffled)
    assert order_root(hashes) == order_root(shuffled)
    if hashes:
        assert order_root(hashes) != order_root(hashes[1:])


def _seal(key: int, root: int, ts: int = 0) -> HeldSeal:
    return HeldSeal(bytes([key]) * 32, 1, ts, bytes([root]) * 32, bytes([root]) * 32)


def test_more_than_two_thirds_are_needed() -> None:
    electorate = frozenset(bytes([k]) * 32 for k in range(6))
    seals = {s.author: s for s in (_seal(k, 1) for k in range(4))}
    pending = judge(seals, electorate, deadline_ms=10, now_ms=0)
    assert pending.state is SlotState.PENDING and pending.agreeing == 4  # 4/6 is not > 2/3
    seals[bytes([4]) * 32] = _seal(4, 1)
    assert judge(seals, electorate, deadline_ms=10, now_ms=0).state is SlotState.FINAL


def test_seals_after_the_deadline_or_outside_the_electorate_do_not_count() -> None:
    electorate = frozenset(bytes([k]) * 32 for k in range(3))
    seals = {s.author: s for s in (_seal(0, 1), _seal(1, 1), _seal(2, 1, ts=10), _seal(9, 1))}
    verdict = judge(seals, electorate, deadline_ms=10, now_ms=10)
    assert verdict.state is SlotState.DISPUTED and verdict.reason == "no_quorum"


def test_diverging_seals_dispute_the_slot_before_the_deadline() -> None:
    electorate = frozenset(bytes([k]) * 32 for k in range(4))
    seals = {s.author: s for s in (_seal(0, 1), _seal(1, 1), _seal(2, 2))}
    verdict = judge(seals, electorate, deadline_ms=10, now_ms=0)
    assert verdict.state is SlotState.PENDING  # the 4th seal could still make 3 of 4
    seals[bytes([3]) * 32] = _seal(3, 2)
    verdict = judge(seals, electorate, deadline_ms=10, now_ms=0)
    assert verdict.state is SlotState.DISPUTED and verdict.reason == "diverging_seals"


@given(st.integers(0, 60), st.data())
def test_two_results_are_never_both_final(size: int, data: st.DataObject) -> None:
    electorate = frozenset(bytes([k]) * 32 for k in range(size))
    votes = data.draw(st.lists(st.sampled_from([1, 2, None]), min_size=size, max_size=size))
    seals = {bytes([k]) * 32: _seal(k, v) for k, v in enumerate(votes) if v is not None}
    finals = {root for root in (1, 2) if is_quorum(sum(1 for v in votes if v == root), size)}
    assert len(finals) <= 1
    verdict = judge(seals, electorate, deadline_ms=1, now_ms=1)
    assert (verdict.state is SlotState.FINAL) == bool(finals)
