"""Who a revoke removes, and when: a function of the entries held, never of the order
they arrived in (issue #14, finding 2)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from market.ledger.codec import Entry, decode_entry
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody, RevokeBody, Side
from market.ledger.revocation import Cause, Revocation, RevokeVerdict
from market.node.index import MarketIndex, OrderStatus
from market.terms import CommunityTerms
from tests.market.ledger_helpers import SLOT, T0_MS, ChainWriter, community_of, identities

MEMBERS = identities(6)
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


_VOTES = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 20)), min_size=1, max_size=16
)


@settings(max_examples=60, deadline=None)
@given(_VOTES, st.randoms(use_true_random=False))
def test_membership_and_order_sets_do_not_depend_on_the_order_revokes_arrive_in(
    votes: list[tuple[int, int, int]], rnd: random.Random
) -> None:
    chains = _Chains()
    for author, target, minute in votes:
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
    for member in MEMBERS:
        key = member.public_key
        assert index.admissions.revocation(key) == reference.admissions.revocation(key)
    assert index.book(SLOT) == reference.book(SLOT)
    assert index.electorate(SLOT) == reference.electorate(SLOT)
    for entry in chains.entries:
        assert index.admissions.revoke_verdict(entry.hash) == (
            reference.admissions.revoke_verdict(entry.hash)
        )
