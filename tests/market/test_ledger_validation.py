"""Every validation rule, each with a crafted bad entry: refused, counted, never stored."""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.ledger.codec import (
    FRAME_PREFIX,
    HEADER_BYTES,
    Entry,
    Limits,
    decode_entry,
    encode_frame,
    encode_header,
)
from market.ledger.community import Community
from market.ledger.equivocation import EquivocationProof
from market.ledger.errors import InvalidCommunityError, RejectReason
from market.ledger.identity import Identity
from market.ledger.kinds import (
    AdmitBody,
    CancelBody,
    Kind,
    OrderBody,
    ReadingBody,
    SealBody,
    Side,
)
from market.ledger.revocation import rotate_message
from market.ledger.store import LedgerStore
from market.terms import CommunityTerms
from tests.market.ledger_helpers import (
    SLOT,
    T0_MS,
    ChainWriter,
    admit,
    clock_ms,
    community_of,
    identities,
    order,
)

NOW = T0_MS + 3_600_000


def _assert_refused(store: LedgerStore, data: bytes, reason: RejectReason) -> None:
    before = store.count()
    counted = store.counters().get(f"rejected_{reason}", 0)
    result = store.ingest(data, now=NOW)
    assert result.accepted == []
    assert result.rejected == {reason: 1}
    assert store.counters()[f"rejected_{reason}"] == counted + 1
    assert store.count() == before


def test_valid_chain_is_accepted_and_stored(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    writer = ChainWriter(members[1], community)
    result = store.ingest(writer.frames(5), now=NOW)
    assert len(result.accepted) == 5
    assert store.count() == 5
    assert store.frontier()[members[1].public_key] == (5, writer.prev)


def _forged(writer: ChainWriter, members: list[Identity]) -> bytes:
    return writer.frame(signer=members[2])


def _tampered_body(writer: ChainWriter, _members: list[Identity]) -> bytes:
    frame = writer.frame(order(energy_wh=1000))
    return frame[:-9] + struct.pack(">Q", 9_999) + frame[-1:]


def _outsider(writer: ChainWriter, _members: list[Identity]) -> bytes:
    outsider = ChainWriter(identities(1, base=200)[0], writer.community)
    return outsider.frame()


def _gap(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(seq=writer.seq + 2)


def _seq_zero(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(seq=0)


def _bad_prev(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(prev=b"\x07" * 32)


def _future(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(ts=NOW + 10 * 60 * 1000)


def _regress(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(ts=writer.ts - 1)


def _other_community(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(community_id=b"\x42" * 32)


def _unknown_kind(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(kind=99)


def _short_revoke(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(b"\x00" * 31, kind=Kind.REVOKE)


def _unproven_rotation(writer: ChainWriter, members: list[Identity]) -> bytes:
    # onto another member's key, which signed no such thing
    return writer.frame(members[2].public_key + bytes(64), kind=Kind.ROTATE)


def _rotation_onto_itself(writer: ChainWriter, _members: list[Identity]) -> bytes:
    own = writer.identity
    proof = own.sign(rotate_message(writer.community_id, own.public_key))
    return writer.frame(own.public_key + proof, kind=Kind.ROTATE)


def _bad_order_side(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(struct.pack(">QBQQQ", SLOT, 3, 1000, 1952, 0))


def _zero_energy(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(struct.pack(">QBQQQ", SLOT, 1, 0, 1952, 0))


def _short_body(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(order()[:-1])


def _wrong_genesis(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return writer.frame(b"not the descriptor", kind=Kind.GENESIS)


def _wrong_version(writer: ChainWriter, _members: list[Identity]) -> bytes:
    frame = bytearray(writer.frame())
    frame[FRAME_PREFIX.size] = 2
    return bytes(frame)


def _huge_header(writer: ChainWriter, _members: list[Identity]) -> bytes:
    return FRAME_PREFIX.pack(600, 0) + bytes(600 + 64)


def _huge_body(writer: ChainWriter, _members: list[Identity]) -> bytes:
    body = bytes(70_000)
    header = encode_header(
        Kind.ORDER, writer.community_id, writer.identity.public_key, 1, bytes(32), T0_MS, body
    )
    return encode_frame(header, writer.identity.sign(header), body)


CASES: list[tuple[str, Callable[[ChainWriter, list[Identity]], bytes], RejectReason]] = [
    ("forged signature", _forged, RejectReason.SIGNATURE),
    ("body swapped after signing", _tampered_body, RejectReason.BODY_HASH),
    ("non-member author", _outsider, RejectReason.NOT_MEMBER),
    ("seq gap", _gap, RejectReason.SEQ),
    ("seq zero", _seq_zero, RejectReason.SEQ),
    ("broken chain", _bad_prev, RejectReason.PREV_HASH),
    ("timestamp far in the future", _future, RejectReason.FUTURE_TIMESTAMP),
    ("timestamp before previous", _regress, RejectReason.TIMESTAMP_REGRESS),
    ("other community", _other_community, RejectReason.COMMUNITY),
    ("unknown kind", _unknown_kind, RejectReason.UNKNOWN_KIND),
    ("revoke of 31 bytes", _short_revoke, RejectReason.BODY_SCHEMA),
    ("rotation the new key did not sign", _unproven_rotation, RejectReason.BODY_SCHEMA),
    ("rotation onto the same key", _rotation_onto_itself, RejectReason.BODY_SCHEMA),
    ("order side 3", _bad_order_side, RejectReason.BODY_SCHEMA),
    ("order of 0 Wh", _zero_energy, RejectReason.BODY_SCHEMA),
    ("short order body", _short_body, RejectReason.BODY_SCHEMA),
    ("genesis with a foreign descriptor", _wrong_genesis, RejectReason.BODY_SCHEMA),
    ("unknown header version", _wrong_version, RejectReason.VERSION),
    ("header over the size limit", _huge_header, RejectReason.HEADER_SIZE),
    ("body over the size limit", _huge_body, RejectReason.BODY_SIZE),
]


@pytest.mark.parametrize(("name", "craft", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_entry_is_refused_and_counted(
    store: LedgerStore,
    community: Community,
    members: list[Identity],
    name: str,
    craft: Callable[[ChainWriter, list[Identity]], bytes],
    reason: RejectReason,
) -> None:
    writer = ChainWriter(members[1], community)
    assert len(store.ingest(writer.frames(2), now=NOW).accepted) == 2
    _assert_refused(store, craft(writer, members), reason)


def test_malformed_bytes_reject_the_whole_batch(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    writer = ChainWriter(members[1], community)
    good = writer.frames(3)
    _assert_refused(store, good[:-5], RejectReason.MALFORMED)
    _assert_refused(store, good + b"\x00", RejectReason.MALFORMED)


def test_batch_over_entry_limit_stores_nothing(
    tmp_path: Path, community: Community, members: list[Identity]
) -> None:
    store = LedgerStore(
        tmp_path / "l.db", community, limits=Limits(max_batch_entries=10), clock_ms=clock_ms
    )
    writer = ChainWriter(members[1], community)
    _assert_refused(store, writer.frames(11), RejectReason.BATCH_SIZE)
    store.close()


def test_batch_over_byte_limit_stores_nothing(
    tmp_path: Path, community: Community, members: list[Identity]
) -> None:
    store = LedgerStore(
        tmp_path / "l.db", community, limits=Limits(max_batch_bytes=1000), clock_ms=clock_ms
    )
    writer = ChainWriter(members[1], community)
    _assert_refused(store, writer.frames(5), RejectReason.BATCH_SIZE)
    store.close()


def test_duplicates_are_counted_not_stored_twice(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    batch = ChainWriter(members[1], community).frames(4)
    store.ingest(batch, now=NOW)
    result = store.ingest(batch, now=NOW)
    assert result.accepted == [] and result.duplicates == 4 and not result.rejected
    assert store.count() == 4


def test_unsorted_batch_is_accepted_whole(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    writer = ChainWriter(members[1], community)
    frames = [writer.frame() for _ in range(5)]
    result = store.ingest(b"".join(reversed(frames)), now=NOW)
    assert len(result.accepted) == 5 and not result.rejected


def test_gap_marks_the_sender_as_ahead(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    writer = ChainWriter(members[1], community)
    writer.frames(2)  # never delivered
    result = store.ingest(writer.frames(1), now=NOW)
    assert result.behind and result.rejected == {RejectReason.SEQ: 1}


def test_admit_makes_a_new_key_a_member(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    newcomer = identities(1, base=100)[0]
    newcomer_writer = ChainWriter(newcomer, community)
    first = newcomer_writer.frame()
    _assert_refused(store, first, RejectReason.NOT_MEMBER)
    body = admit(community, members[2], newcomer.public_key)
    frame = ChainWriter(members[1], community).frame(body.encode(), kind=Kind.ADMIT)
    # the newcomer's entry comes first in the batch: it is retried once the admit is in
    result = store.ingest(first + frame, now=NOW)
    assert len(result.accepted) == 2 and not result.rejected
    assert store.membership.is_member(newcomer.public_key)
    (stored,) = store.entries(kind=Kind.ADMIT)
    assert AdmitBody.decode(stored.body) == body


def test_admit_by_an_outsider_is_refused(store: LedgerStore, community: Community) -> None:
    outsider, newcomer = identities(2, base=100)
    frame = ChainWriter(outsider, community).frame(
        admit(community, outsider, newcomer.public_key).encode(), kind=Kind.ADMIT
    )
    _assert_refused(store, frame, RejectReason.NOT_MEMBER)
    assert not store.membership.is_member(newcomer.public_key)


def test_membership_survives_reopen(
    tmp_path: Path, community: Community, members: list[Identity]
) -> None:
    newcomer = identities(1, base=100)[0]
    store = LedgerStore(tmp_path / "l.db", community, members[0], clock_ms=clock_ms)
    store.append(Kind.ADMIT, admit(community, members[0], newcomer.public_key).encode(), T0_MS)
    store.close()
    reopened = LedgerStore(tmp_path / "l.db", community, newcomer, clock_ms=clock_ms)
    entry = reopened.append(Kind.ORDER, order())
    assert entry.seq == 1 and entry.author == newcomer.public_key
    reopened.close()


def test_genesis_entry_carries_the_descriptor(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    frame = ChainWriter(members[1], community).frame(community.to_bytes(), kind=Kind.GENESIS)
    assert len(store.ingest(frame, now=NOW).accepted) == 1


def test_own_appends_chain_and_sign(store: LedgerStore) -> None:
    first = store.append(Kind.ORDER, order())
    second = store.append(Kind.ORDER, OrderBody(SLOT, Side.BUY, 700, 1800).encode())
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    assert second.verify_signature()
    assert decode_entry(second.raw).hash == second.hash
    assert len(second.header) == HEADER_BYTES


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch_size=st.integers(1, 12))
def test_any_delivery_order_ends_in_the_same_store(
    tmp_path_factory: pytest.TempPathFactory, seed: int, batch_size: int
) -> None:
    """Gossip delivers in any order and in any batches; redelivery converges on all."""
    members = identities(3)
    community = community_of(members)
    writers = [ChainWriter(member, community) for member in members]
    frames = [writer.frame(order(energy_wh=10 + i)) for writer in writers for i in range(6)]
    rng = random.Random(seed)
    store = LedgerStore(tmp_path_factory.mktemp("order") / "l.db", community, clock_ms=clock_ms)
    for _round in range(len(frames)):
        rng.shuffle(frames)
        for start in range(0, len(frames), batch_size):
            store.ingest(b"".join(frames[start : start + batch_size]), now=NOW)
        if store.count() == len(frames):
            break
    assert store.frontier() == {w.identity.public_key: (6, w.prev) for w in writers}
    store.close()


def _two_forks(community: Community, author: Identity) -> tuple[Entry, Entry]:
    left = ChainWriter(author, community)
    right = ChainWriter(author, community)
    return (
        decode_entry(left.frame(order(energy_wh=1))),
        decode_entry(right.frame(order(energy_wh=2))),
    )


def test_equivocation_proof_entry_convinces_a_node_that_saw_one_side(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    a, b = _two_forks(community, members[2])
    proof = EquivocationProof.from_entries(a, b)
    frame = ChainWriter(members[1], community).frame(proof.encode(), kind=Kind.EQUIVOCATION)
    result = store.ingest(frame, now=NOW)
    assert len(result.accepted) == 1 and result.equivocations == [proof]
    assert [(p.author, p.seq) for p in store.equivocations()] == [(members[2].public_key, 1)]
    # the node learnt it from a proof, so it does not publish one of its own
    assert store.entries(author=members[0].public_key) == []


@pytest.mark.parametrize(
    "spoil",
    ["same entry twice", "wrong order", "forged half", "other seq", "truncated"],
)
def test_bogus_equivocation_proofs_are_refused(
    store: LedgerStore, community: Community, members: list[Identity], spoil: str
) -> None:
    a, b = _two_forks(community, members[2])
    proof = EquivocationProof.from_entries(a, b)
    if spoil == "same entry twice":
        body = EquivocationProof(a.header, a.signature, a.header, a.signature).encode()
    elif spoil == "wrong order":
        body = EquivocationProof(
            proof.header_b, proof.signature_b, proof.header_a, proof.signature_a
        ).encode()
    elif spoil == "forged half":
        body = EquivocationProof(
            proof.header_a, proof.signature_a, proof.header_b, members[1].sign(proof.header_b)
        ).encode()
    elif spoil == "other seq":
        later = ChainWriter(members[2], community)
        later.frames(1)
        c = decode_entry(later.frame())
        body = EquivocationProof.from_entries(a, c).encode()
    else:
        body = proof.encode()[:-1]
    frame = ChainWriter(members[1], community).frame(body, kind=Kind.EQUIVOCATION)
    _assert_refused(store, frame, RejectReason.BODY_SCHEMA)
    assert store.equivocations() == []


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (Kind.CANCEL, CancelBody(b"\x05" * 32).encode()),
        # a slot that ended before T0: its gate has closed and it has been delivered
        (Kind.SEAL, SealBody(T0_MS // 1000 - 900, b"\x01" * 32, b"\x02" * 32).encode()),
        (Kind.READING, ReadingBody(T0_MS // 1000 - 900, 1200, 300).encode()),
    ],
)
def test_market_kinds_are_accepted(
    store: LedgerStore, community: Community, members: list[Identity], kind: Kind, body: bytes
) -> None:
    frame = ChainWriter(members[1], community).frame(body, kind=kind)
    assert len(store.ingest(frame, now=NOW).accepted) == 1


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (Kind.SEAL, struct.pack(">Q32s32s", 0, bytes(32), bytes(32))),
        (Kind.READING, struct.pack(">QQQB", SLOT, 10**13, 0, 0)),
        (Kind.READING, struct.pack(">QQQB", SLOT, 1, 0, 2)),
        (Kind.CANCEL, bytes(31)),
        (Kind.ADMIT, bytes(33)),
        (Kind.ADMIT, bytes(32)),  # an early layout, without the invite tag
        (Kind.ADMIT, bytes(64)),  # the layout before invites were proven: key and tag only
    ],
)
def test_market_kinds_with_bad_bodies_are_refused(
    store: LedgerStore, community: Community, members: list[Identity], kind: Kind, body: bytes
) -> None:
    frame = ChainWriter(members[1], community).frame(body, kind=kind)
    _assert_refused(store, frame, RejectReason.BODY_SCHEMA)


@pytest.mark.parametrize(
    "build",
    [
        lambda k: Community("", 1, (k,)),
        lambda k: Community("x" * 65, 1, (k,)),
        lambda k: Community("ok", -1, (k,)),
        lambda k: Community("ok", 1, ()),
        lambda k: Community("ok", 1, (k[:31],)),
        lambda k: Community("ok", 1, (k, k)),
    ],
)
def test_invalid_community_descriptors_are_refused(build: Callable[[bytes], Community]) -> None:
    with pytest.raises(InvalidCommunityError):
        build(identities(1)[0].public_key)


def test_non_canonical_descriptor_bytes_are_refused(community: Community) -> None:
    data = community.to_bytes()
    for bad in (data + b"\x00", data[:-1], b"\x01" + data[1:], b"\x03" + data[1:], b""):
        with pytest.raises(InvalidCommunityError):
            Community.from_bytes(bad)
    with pytest.raises(InvalidCommunityError):
        Community.from_json('{"name": "x"}')


def _terms_offset(community: Community) -> int:
    return 2 + len(community.name.encode()) + 8


def test_descriptor_with_invalid_terms_names_the_term(community: Community) -> None:
    data = bytearray(community.to_bytes())
    data[_terms_offset(community) : _terms_offset(community) + 4] = (7).to_bytes(4, "big")
    with pytest.raises(InvalidCommunityError, match="slot_s"):
        Community.from_bytes(bytes(data))


def test_descriptor_with_non_canonical_terms_is_refused(community: Community) -> None:
    data = bytearray(community.to_bytes())
    currency = _terms_offset(community) + CommunityTerms.LAYOUT.size - 8
    assert data[currency : currency + 3] == b"EUR"
    data[currency : currency + 3] = b"\xffUR"
    with pytest.raises(InvalidCommunityError, match="currency"):
        Community.from_bytes(bytes(data))


def test_community_json_terms_default_and_are_checked(community: Community) -> None:
    raw = json.loads(community.to_json())
    del raw["terms"]
    assert Community.from_json(json.dumps(raw)).terms == CommunityTerms()
    raw["terms"] = {"mechanism": "lottery"}
    with pytest.raises(InvalidCommunityError, match="mechanism"):
        Community.from_json(json.dumps(raw))
    raw["terms"] = {"colour": "green"}
    with pytest.raises(InvalidCommunityError, match="known keys"):
        Community.from_json(json.dumps(raw))
    raw["terms"] = ["not", "an", "object"]
    with pytest.raises(InvalidCommunityError, match="terms"):
        Community.from_json(json.dumps(raw))
