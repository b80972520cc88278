"""Which admitted keys count: one per invite, within the inviter's quota, after its
probation; the same members for any arrival order of the same admits."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from market.ledger.admission import (
    ADMISSION_PERIOD_MS,
    ADMISSIONS_PER_PERIOD,
    Admissions,
    AdmitVerdict,
)
from market.ledger.codec import Entry, decode_entry
from market.ledger.kinds import Kind
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

GENESIS = identities(2)
COMMUNITY = community_of(GENESIS)
KEYS = identities(8, base=100)
FAR_S = T0_MS // 1000 + 400 * 86_400


def _admit(writer: ChainWriter, inviter_index: int, member: int, secret: int, ts: int) -> Entry:
    """An admit of KEYS[member] by an invite of (GENESIS + KEYS)[inviter_index]."""
    inviter = (GENESIS + KEYS)[inviter_index]
    body = admit(
        COMMUNITY, inviter, KEYS[member].public_key, secret=bytes([secret]) * 16, expires_s=FAR_S
    )
    return decode_entry(writer.frame(body.encode(), Kind.ADMIT, ts=ts))


def _counted(entries: list[Entry]) -> dict[bytes, int]:
    admissions = Admissions(COMMUNITY.genesis_members, COMMUNITY.created_ms)
    for entry in entries:
        admissions.add(entry)
    return dict(admissions.members())


def test_of_two_admits_with_one_invite_the_earliest_counts() -> None:
    a, b = ChainWriter(GENESIS[0], COMMUNITY), ChainWriter(GENESIS[1], COMMUNITY)
    later = _admit(a, 0, member=0, secret=1, ts=T0_MS + 2000)
    earlier = _admit(b, 0, member=1, secret=1, ts=T0_MS + 1000)
    admissions = Admissions(COMMUNITY.genesis_members, COMMUNITY.created_ms)
    admissions.add(later)
    assert admissions.is_member(KEYS[0].public_key)
    admissions.add(earlier)  # arrives second, stamped first: it wins on every node
    assert admissions.is_member(KEYS[1].public_key)
    assert not admissions.is_member(KEYS[0].public_key)
    assert admissions.verdict(later.hash) is AdmitVerdict.INVITE_USED
    assert "redeemed for another key" in admissions.explain(KEYS[0].public_key)


def test_an_inviters_quota_renews_after_a_period_and_newcomers_wait_one() -> None:
    writer = ChainWriter(GENESIS[0], COMMUNITY)
    at = T0_MS + 1000
    entries = [_admit(writer, 0, member=i, secret=i, ts=at + i) for i in range(4)]
    assert len(_counted(entries)) == 2 + ADMISSIONS_PER_PERIOD
    # KEYS[0] invites KEYS[5] within its first period: not yet; after it: counted
    early = _admit(writer, 2, member=5, secret=50, ts=at + ADMISSION_PERIOD_MS - 1)
    assert KEYS[5].public_key not in _counted([*entries, early])
    renewed = _admit(writer, 0, member=6, secret=60, ts=at + ADMISSION_PERIOD_MS + 1)
    after = _admit(writer, 2, member=7, secret=70, ts=at + ADMISSION_PERIOD_MS + 2)
    counted = _counted([*entries, early, renewed, after])
    assert KEYS[6].public_key in counted and KEYS[7].public_key in counted
    assert KEYS[3].public_key not in counted  # over the quota when it was admitted


def test_the_market_ignores_the_orders_of_a_key_that_does_not_count() -> None:
    index = MarketIndex(CommunityTerms(), COMMUNITY.genesis_members, COMMUNITY.created_ms)
    a, b = ChainWriter(GENESIS[0], COMMUNITY), ChainWriter(GENESIS[1], COMMUNITY)
    index.add([_admit(a, 0, member=0, secret=1, ts=T0_MS + 2000)])
    newcomer = ChainWriter(KEYS[0], COMMUNITY)
    newcomer.ts = T0_MS + 3000
    index.add([decode_entry(newcomer.frame())])
    assert [status for _order, status in index.book(SLOT)] == [OrderStatus.LIVE]
    # the same invite, redeemed earlier for another key at another node, arrives
    index.add([_admit(b, 0, member=1, secret=1, ts=T0_MS + 1000)])
    assert [status for _order, status in index.book(SLOT)] == [OrderStatus.NOT_MEMBER]
    assert index.order_set(SLOT) == []
    assert not index.is_member(KEYS[0].public_key) and index.is_member(KEYS[1].public_key)


def _scenario(rng: random.Random) -> list[Entry]:
    """Admits from several authors: shared invites, chains of inviters, quota overruns."""
    writers = [ChainWriter(identity, COMMUNITY) for identity in GENESIS + KEYS[:2]]
    entries: list[Entry] = []
    for writer in writers:
        ts = T0_MS
        for _ in range(rng.randint(1, 4)):
            ts += rng.choice((1, 1000, ADMISSION_PERIOD_MS // 2))
            inviter = rng.randrange(len(GENESIS) + 2)
            member = rng.randrange(len(KEYS))
            entries.append(_admit(writer, inviter, member, rng.randrange(6), ts))
    return entries


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.randoms(use_true_random=False))
def test_counted_members_do_not_depend_on_arrival_order(
    scenario: random.Random, arrival: random.Random
) -> None:
    entries = _scenario(scenario)
    shuffled = entries[:]
    arrival.shuffle(shuffled)
    assert _counted(shuffled) == _counted(entries)
    # through the market index, in batches of any size
    index = MarketIndex(CommunityTerms(), COMMUNITY.genesis_members, COMMUNITY.created_ms)
    while shuffled:
        cut = arrival.randint(1, len(shuffled))
        index.add(shuffled[:cut])
        shuffled = shuffled[cut:]
    assert index.members() == frozenset(_counted(entries))


def test_an_admit_dated_before_the_community_existed_does_not_count() -> None:
    writer = ChainWriter(GENESIS[0], COMMUNITY)
    backdated = _admit(writer, 0, member=0, secret=1, ts=COMMUNITY.created_ms - 1)
    admissions = Admissions(COMMUNITY.genesis_members, COMMUNITY.created_ms)
    admissions.add(backdated)
    assert admissions.verdict(backdated.hash) is AdmitVerdict.INVITER_NOT_MEMBER
    assert not admissions.is_member(KEYS[0].public_key)
