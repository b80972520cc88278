"""Who a revoke removes, and when: a function of the entries held, never of the order
they arrived in (issue #14, finding 2)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from market.ledger.admission import ADMISSIONS_PER_PERIOD, AdmitVerdict
from market.ledger.codec import Entry, decode_entry
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody, RevokeBody, RotateBody, Side
from market.ledger.revocation import Cause, Revocation, RevokeVerdict, rotate_message
from market.node.index import MarketIndex, OrderStatus
from market.terms import CommunityTerms
from tests.market.ledger_helpers import (
    SLOT,
    T0_MS,
    ChainWriter,
    admit,
    community_of,
    identities,
)

MEMBERS = identities(6)
SUCCESSORS = identities(6, base=100)  # the key each member may rotate onto
COMMUNITY = community_of(MEMBERS)


def _index(entries: list[Entry]) -> MarketIndex:
    index = MarketIndex(CommunityTerms(), COMMUNITY.genesis_members, COMMUNITY.created_ms)
    index.add(entries)
    return index


class _Chains:
    """Each member's chain written by hand: an order first, then the revokes asked for."""

    def __init__(self) -> None:
        self.writers = [ChainWriter(identity, COMMUNITY) for identity in MEMBERS]
        self.entries = [
            decode_entry(writer.frame(OrderBody(SLOT, Side.SELL, 100, 900).encode(), ts=T0_MS))
            for writer in self.writers
        ]

    def revoke(self, author: int, target: Identity, at_ms: int) -> Entry:
        writer = self.writers[author]
        ts = max(writer.ts, at_ms)  # a chain's timestamps never go backwards
        body = RevokeBody(target.public_key).encode()
        entry = decode_entry(writer.frame(body, Kind.REVOKE, ts=ts))
        self.entries.append(entry)
        return entry

    def replace(self, author: int, target: Identity, successor: Identity, at_ms: int) -> Entry:
        writer = self.writers[author]
        body = RevokeBody(target.public_key, successor.public_key).encode()
        entry = decode_entry(writer.frame(body, Kind.REVOKE, ts=max(writer.ts, at_ms)))
        self.entries.append(entry)
        return entry

    def rotate(self, author: int, new: Identity, at_ms: int) -> Entry:
        writer = self.writers[author]
        proof = new.sign(rotate_message(COMMUNITY.community_id, writer.identity.public_key))
        body = RotateBody(new.public_key, proof).encode()
        entry = decode_entry(writer.frame(body, Kind.ROTATE, ts=max(writer.ts, at_ms)))
        self.entries.append(entry)
        return entry


def _minutes(n: int) -> int:
    return T0_MS + n * 60_000


def test_a_removal_needs_more_than_half_of_the_other_members_and_dates_from_the_last_vote() -> None:
    chains = _Chains()
    target = MEMBERS[5]
    votes = [chains.revoke(author, target, _minutes(author + 1)) for author in range(2)]
    index = _index(chains.entries)
    # two of the five others: not more than half
    assert index.is_member(target.public_key)
    assert [index.admissions.revoke_verdict(v.hash) for v in votes] == [RevokeVerdict.VOTED] * 2
    third = chains.revoke(2, target, _minutes(10))
    fourth = chains.revoke(3, target, _minutes(11))
    index = _index(chains.entries)
    assert not index.is_member(target.public_key)
    assert index.admissions.revocation(target.public_key) == Revocation(_minutes(10), Cause.REMOVED)
    assert index.admissions.revoke_verdict(third.hash) is RevokeVerdict.REMOVED
    assert index.admissions.revoke_verdict(fourth.hash) is RevokeVerdict.TARGET_NOT_MEMBER
    assert len(index.members()) == 5
    statuses = {order.author: status for order, status in index.book(SLOT)}
    assert statuses[target.public_key] is OrderStatus.REVOKED
    assert {statuses[m.public_key] for m in MEMBERS[:5]} == {OrderStatus.LIVE}


def test_votes_of_keys_revoked_before_the_quorum_do_not_count() -> None:
    chains = _Chains()
    target = MEMBERS[5]
    chains.revoke(0, target, _minutes(1))
    chains.revoke(0, MEMBERS[0], _minutes(2))  # the first voter leaves
    late = chains.revoke(1, MEMBERS[1], _minutes(3))  # another leaves ...
    after = chains.revoke(1, target, _minutes(4))  # ... then votes: it no longer counts
    for author in (2, 3):
        chains.revoke(author, target, _minutes(5 + author))
    index = _index(chains.entries)
    assert index.admissions.revoke_verdict(late.hash) is RevokeVerdict.LEFT
    assert index.admissions.revoke_verdict(after.hash) is RevokeVerdict.NOT_MEMBER
    # members 2, 3, 4 and the target: two standing votes of three others, a quorum
    revocation = index.admissions.revocation(target.public_key)
    assert revocation == Revocation(_minutes(8), Cause.REMOVED)
    assert index.members() == {m.public_key for m in MEMBERS[2:5]}


def test_a_revoked_key_never_counts_again_and_its_vote_before_leaving_lapses() -> None:
    chains = _Chains()
    chains.revoke(4, MEMBERS[4], _minutes(1))
    chains.revoke(4, MEMBERS[4], _minutes(2))  # leaving twice changes nothing
    index = _index(chains.entries)
    assert index.admissions.revocation(MEMBERS[4].public_key) == Revocation(_minutes(1), Cause.LEFT)
    assert "left the community" in index.admissions.explain(MEMBERS[4].public_key)


def test_a_rotated_key_counts_in_the_old_ones_place_and_inherits_the_votes_against_it() -> None:
    chains = _Chains()
    target, successor = MEMBERS[5], SUCCESSORS[5]
    chains.revoke(0, target, _minutes(1))
    chains.revoke(1, target, _minutes(2))
    rotation = chains.rotate(5, successor, _minutes(3))
    onto_used = chains.rotate(4, MEMBERS[3], _minutes(4))  # onto a key that counts
    index = _index(chains.entries)
    admissions = index.admissions
    assert admissions.revoke_verdict(rotation.hash) is RevokeVerdict.ROTATED
    assert admissions.revoke_verdict(onto_used.hash) is RevokeVerdict.KEY_USED
    assert admissions.revocation(target.public_key) == Revocation(_minutes(3), Cause.ROTATED)
    assert index.is_member(successor.public_key) and index.is_member(MEMBERS[4].public_key)
    assert len(index.members()) == 6
    statuses = {order.author: status for order, status in index.book(SLOT)}
    assert statuses[target.public_key] is OrderStatus.REVOKED
    # the two votes against the old key stand against the new one: a third removes it
    chains.revoke(2, successor, _minutes(5))
    index = _index(chains.entries)
    assert index.admissions.revocation(successor.public_key) == Revocation(
        _minutes(5), Cause.REMOVED
    )


def test_a_rotation_does_not_renew_the_households_invite_quota() -> None:
    chains = _Chains()
    writer = chains.writers[0]
    newcomers = identities(ADMISSIONS_PER_PERIOD + 1, base=200)
    admits = []
    for number, newcomer in enumerate(newcomers):
        inviter = MEMBERS[0] if number < ADMISSIONS_PER_PERIOD else SUCCESSORS[0]
        body = admit(COMMUNITY, inviter, newcomer.public_key, secret=bytes([number]) * 16)
        frame = writer.frame(body.encode(), Kind.ADMIT, ts=_minutes(2 * number + 1))
        admits.append(decode_entry(frame))
        if number == ADMISSIONS_PER_PERIOD - 1:
            chains.rotate(0, SUCCESSORS[0], _minutes(2 * number + 2))
    index = _index([*chains.entries, *admits])
    verdicts = [index.admissions.verdict(entry.hash) for entry in admits]
    assert verdicts == [AdmitVerdict.COUNTED] * ADMISSIONS_PER_PERIOD + [AdmitVerdict.QUOTA]


def test_a_lost_key_is_replaced_by_a_quorum_and_its_household_keeps_its_standing() -> None:
    # Member 5 lost its key: the household joined again with a new key (an invite of
    # member 0), and the others vote to replace the old key by the new one.
    chains = _Chains()
    lost, new = MEMBERS[5], identities(1, base=230)[0]
    writer = chains.writers[0]
    joined = decode_entry(
        writer.frame(
            admit(COMMUNITY, MEMBERS[0], new.public_key).encode(), Kind.ADMIT, ts=_minutes(1)
        )
    )
    chains.entries.append(joined)
    index = _index(chains.entries)
    # a fresh key cannot invite for 30 days (probation)...
    assert index.admissions.inviter_verdict(new.public_key, _minutes(5)) is AdmitVerdict.PROBATION
    votes = [chains.replace(author, lost, new, _minutes(2 + author)) for author in range(2)]
    index = _index(chains.entries)
    assert [index.admissions.revoke_verdict(v.hash) for v in votes] == [RevokeVerdict.VOTED] * 2
    assert index.is_member(lost.public_key)
    # four of the six others (the new key counts among them): more than half
    chains.replace(2, lost, new, _minutes(9))
    fourth = chains.replace(3, lost, new, _minutes(10))
    index = _index(chains.entries)
    assert index.admissions.revoke_verdict(fourth.hash) is RevokeVerdict.REPLACED
    assert index.admissions.revocation(lost.public_key) == Revocation(_minutes(10), Cause.REPLACED)
    assert "replaced it by the household's new key" in index.admissions.explain(lost.public_key)
    # ...but the household's key is not fresh: it invites as the genesis member it was
    verdict = index.admissions.inviter_verdict(new.public_key, _minutes(11))
    assert verdict is AdmitVerdict.COUNTED
    # a thief holding the lost key trades no more: its orders of every slot whose gate
    # closes after the replacement are void, those signed before it included
    late = chains.writers[5].frame(OrderBody(SLOT, Side.SELL, 100, 900).encode(), ts=_minutes(12))
    index = _index([*chains.entries, decode_entry(late)])
    statuses = {o.timestamp_ms: st for o, st in index.book(SLOT) if o.author == lost.public_key}
    assert statuses == {T0_MS: OrderStatus.REVOKED, _minutes(12): OrderStatus.REVOKED}


def test_a_replacement_counts_votes_for_one_successor_only() -> None:
    chains = _Chains()
    lost = MEMBERS[5]
    first, second = MEMBERS[3], MEMBERS[4]  # two candidates, both members
    votes = [
        chains.replace(0, lost, first, _minutes(1)),
        chains.replace(1, lost, second, _minutes(2)),
        chains.replace(2, lost, first, _minutes(3)),
        chains.replace(5, lost, first, _minutes(4)),  # the lost key cannot replace itself
    ]
    index = _index(chains.entries)
    assert index.is_member(lost.public_key)  # 2 votes for one, 1 for the other: no quorum
    assert index.admissions.revoke_verdict(votes[3].hash) is RevokeVerdict.NOT_MEMBER
    stranger = identities(1, base=240)[0]
    vote = chains.replace(0, lost, stranger, _minutes(5))
    index = _index(chains.entries)
    assert index.admissions.revoke_verdict(vote.hash) is RevokeVerdict.SUCCESSOR_NOT_MEMBER


_VOTES = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 20), st.integers(0, 2)),
    min_size=1,
    max_size=16,
)


@settings(max_examples=60, deadline=None)
@given(_VOTES, st.randoms(use_true_random=False))
def test_membership_and_order_sets_do_not_depend_on_the_order_revokes_arrive_in(
    votes: list[tuple[int, int, int, int]], rnd: random.Random
) -> None:
    chains = _Chains()
    for author, target, minute, kind in votes:
        if kind == 1:  # onto a successor key, possibly another member's: then key_used
            chains.rotate(author, SUCCESSORS[target], _minutes(minute))
        elif kind == 2:  # a replacement by the next member's key
            chains.replace(author, MEMBERS[target], MEMBERS[(target + 1) % 6], _minutes(minute))
        else:
            chains.revoke(author, MEMBERS[target], _minutes(minute))
    reference = _index(chains.entries)
    shuffled = list(chains.entries)
    rnd.shuffle(shuffled)
    index = MarketIndex(CommunityTerms(), COMMUNITY.genesis_members, COMMUNITY.created_ms)
    while shuffled:  # in batches, reading the counts in between as a node does
        size = rnd.randint(1, 4)
        batch, shuffled = shuffled[:size], shuffled[size:]
        index.add(batch)
        index.members()
    assert index.members() == reference.members()
    for member in MEMBERS + SUCCESSORS:
        key = member.public_key
        assert index.admissions.revocation(key) == reference.admissions.revocation(key)
    assert index.book(SLOT) == reference.book(SLOT)
    assert index.electorate(SLOT) == reference.electorate(SLOT)
    for entry in chains.entries:
        assert index.admissions.revoke_verdict(entry.hash) == (
            reference.admissions.revoke_verdict(entry.hash)
        )
