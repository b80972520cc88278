"""An admit makes a member only with a member's invite: refused at ingest otherwise."""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from market.ledger.codec import decode_entry
from market.ledger.errors import InvalidBodyError, RejectReason
from market.ledger.kinds import Kind
from market.ledger.store import LedgerStore
from market.ledger.verify import verify_store
from tests.market.ledger_helpers import T0_MS, ChainWriter, admit, community_of, identities

NOW = T0_MS + 3_600_000
MEMBERS = identities(3)
COMMUNITY = community_of(MEMBERS)
NEWCOMER, OTHER, OUTSIDER = identities(3, base=100)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LedgerStore]:
    s = LedgerStore(tmp_path / "ledger.sqlite3", COMMUNITY, MEMBERS[0])
    yield s
    s.close()


def _refused(store: LedgerStore, frame: bytes) -> RejectReason:
    result = store.ingest(frame, now=NOW)
    assert not result.accepted
    (reason,) = result.rejected
    return reason


def test_a_zero_tag_admit_of_the_old_layout_makes_no_member(store: LedgerStore) -> None:
    # the attack of issue #14: admit(key, 32 zero bytes), no invite at all
    body = struct.pack(">32s32s", NEWCOMER.public_key, bytes(32))
    frame = ChainWriter(MEMBERS[1], COMMUNITY).frame(body, kind=Kind.ADMIT)
    assert _refused(store, frame) is RejectReason.BODY_SCHEMA
    assert not store.membership.is_member(NEWCOMER.public_key)


def test_an_admit_needs_a_valid_invite_of_a_member(store: LedgerStore) -> None:
    genuine = admit(COMMUNITY, MEMBERS[2], NEWCOMER.public_key)
    # the inviter's signature and the invite key's binding of a genuine admit, seen on
    # the ledger, reused by a member to admit another key
    stolen = replace(genuine, member=OTHER.public_key)
    forged = [
        replace(genuine, invite_tag=bytes(32)),  # no invite
        replace(genuine, inviter_signature=OUTSIDER.sign(b"anything")),
        replace(genuine, expires_s=genuine.expires_s + 1),  # stretched: signature breaks
        replace(genuine, address="192.0.2.9:1"),  # redirected: signature breaks
        stolen,
        admit(COMMUNITY, MEMBERS[2], NEWCOMER.public_key, expires_s=T0_MS // 1000 + 1),
    ]
    writer = ChainWriter(MEMBERS[1], COMMUNITY)
    for body in forged:
        frame = writer.frame(body.encode(), kind=Kind.ADMIT, advance=False)
        assert _refused(store, frame) is RejectReason.INVITE
    assert store.counters()["rejected_invite"] == len(forged)
    assert not store.membership.is_member(NEWCOMER.public_key)
    assert not store.membership.is_member(OTHER.public_key)
    assert len(store.ingest(writer.frame(genuine.encode(), kind=Kind.ADMIT), now=NOW).accepted)
    assert store.membership.is_member(NEWCOMER.public_key)


def test_an_invite_of_an_outsider_waits_for_the_outsiders_admission(store: LedgerStore) -> None:
    by_outsider = admit(COMMUNITY, OUTSIDER, NEWCOMER.public_key, secret=b"\x01" * 16)
    writer = ChainWriter(MEMBERS[1], COMMUNITY)
    late = writer.frame(by_outsider.encode(), kind=Kind.ADMIT, advance=False)
    assert _refused(store, late) is RejectReason.NOT_MEMBER
    # in one batch, the outsider's own admission first lets the invite count: the
    # entries' arrival order within a batch does not matter
    outsider_in = ChainWriter(MEMBERS[2], COMMUNITY).frame(
        admit(COMMUNITY, MEMBERS[2], OUTSIDER.public_key).encode(), kind=Kind.ADMIT
    )
    result = store.ingest(late + outsider_in, now=NOW)
    assert len(result.accepted) == 2 and not result.rejected
    assert store.membership.is_member(NEWCOMER.public_key)


def test_a_node_never_signs_an_admit_its_peers_would_refuse(store: LedgerStore) -> None:
    genuine = admit(COMMUNITY, MEMBERS[2], NEWCOMER.public_key)
    with pytest.raises(InvalidBodyError, match="invite"):
        store.append(Kind.ADMIT, replace(genuine, member=OTHER.public_key).encode(), NOW)
    with pytest.raises(InvalidBodyError, match="expired"):
        store.append(Kind.ADMIT, genuine.encode(), genuine.expires_s * 1000)
    assert store.count() == 0


def test_verify_flags_a_stored_admit_without_a_valid_invite(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "ledger.sqlite3", COMMUNITY, MEMBERS[0])
    genuine = admit(COMMUNITY, MEMBERS[2], NEWCOMER.public_key)
    store.append(Kind.ADMIT, genuine.encode(), NOW)
    store.close()
    assert verify_store(tmp_path).problems == []
    # a store written by an older or broken implementation: the row is put in by hand
    raw = ChainWriter(MEMBERS[1], COMMUNITY).frame(
        replace(genuine, member=OTHER.public_key).encode(), kind=Kind.ADMIT
    )
    entry = decode_entry(raw)
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as conn:
        conn.execute(
            "INSERT INTO entries (author, seq, hash, kind, ts_ms, raw) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.author, entry.seq, entry.hash, entry.kind, entry.timestamp_ms, raw),
        )
    conn.close()
    (problem,) = verify_store(tmp_path).problems
    assert "invite key did not sign" in problem.message
