"""Offline re-check of a whole store: every signature, link and body, from the raw bytes."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .admission import check_own_admit
from .codec import ZERO_HASH, Entry, decode_entry
from .community import Community
from .equivocation import EquivocationProof
from .errors import InvalidBodyError, LedgerError, MalformedBatchError
from .kinds import ACCEPTED_KINDS, Kind, granted_key
from .membership import Membership
from .store import DB_FILE_NAME
from .validation import check_body


@dataclass(frozen=True, slots=True)
class Problem:
    """One inconsistency found in a store."""

    author: str
    seq: int
    message: str

    def __str__(self) -> str:
        return f"{self.author[:16]} seq {self.seq}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verify_store."""

    entries: int
    authors: int
    equivocations: int
    problems: list[Problem]


def _connect(directory: Path) -> sqlite3.Connection:
    path = directory / DB_FILE_NAME
    if not path.is_file():
        raise LedgerError(f"no ledger store at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def load_community(directory: Path) -> Community:
    """The community descriptor a store recorded at creation."""
    with _connect(directory) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'community'").fetchone()
    if row is None:
        raise LedgerError(f"store in {directory} records no community")
    return Community.from_bytes(row[0])


def verify_store(directory: Path) -> VerifyReport:
    """Re-validate every stored entry and equivocation proof of the store in directory."""
    community = load_community(directory)
    community_id = community.community_id
    problems: list[Problem] = []
    membership = Membership(community)
    with _connect(directory) as conn:
        rows = conn.execute(
            "SELECT author, seq, hash, kind, ts_ms, raw FROM entries ORDER BY id"
        ).fetchall()
        proofs = conn.execute("SELECT author, seq, proof FROM equivocations").fetchall()
    decoded: list[tuple[bytes, int, Entry]] = []
    for author, seq, entry_hash, kind, ts_ms, raw in rows:
        try:
            entry = decode_entry(raw)
        except MalformedBatchError as err:
            problems.append(Problem(author.hex(), seq, f"undecodable frame: {err}"))
            continue
        if (entry.author, entry.seq, entry.hash, entry.kind, entry.timestamp_ms) != (
            author,
            seq,
            entry_hash,
            kind,
            ts_ms,
        ):
            problems.append(Problem(author.hex(), seq, "index columns disagree with the frame"))
        try:
            granted = granted_key(entry.kind, entry.body)
        except InvalidBodyError as err:
            problems.append(Problem(author.hex(), seq, f"bad admit or rotate body: {err}"))
            granted = None
        if granted is not None:
            membership.admit(granted)
        decoded.append((author, seq, entry))
    decoded.sort(key=lambda item: (item[0], item[1]))
    previous: Entry | None = None
    for _author, _seq, entry in decoded:
        problems.extend(_check_entry(entry, previous, community, community_id, membership))
        previous = entry
    for author, seq, proof in proofs:
        try:
            EquivocationProof.decode(proof).check(community_id)
        except InvalidBodyError as err:
            problems.append(Problem(author.hex(), seq, f"bad equivocation proof: {err}"))
    return VerifyReport(len(rows), len({a for a, _s, _e in decoded}), len(proofs), problems)


def _check_entry(
    entry: Entry,
    previous: Entry | None,
    community: Community,
    community_id: bytes,
    membership: Membership,
) -> list[Problem]:
    author = entry.author.hex()
    found: list[str] = []
    if previous is None or previous.author != entry.author:
        previous = None
    expected_seq = 1 if previous is None else previous.seq + 1
    if entry.seq != expected_seq:
        found.append(f"chain gap: expected seq {expected_seq}")
    elif entry.prev_hash != (ZERO_HASH if previous is None else previous.hash):
        found.append("prev_hash does not link to the previous entry")
    if previous is not None and entry.timestamp_ms < previous.timestamp_ms:
        found.append("timestamp goes backwards")
    if entry.community_id != community_id:
        found.append("entry of another community")
    if entry.kind not in ACCEPTED_KINDS:
        found.append(f"unknown kind {entry.kind}")
    if not membership.is_member(entry.author):
        found.append("author is not a member")
    if hashlib.sha256(entry.body).digest() != entry.body_hash:
        found.append("body does not match body_hash")
    if not entry.verify_signature():
        found.append("bad signature")
    found.extend(_body_problems(entry, community, membership))
    return [Problem(author, entry.seq, message) for message in found]


def _body_problems(entry: Entry, community: Community, membership: Membership) -> list[str]:
    try:
        check_body(entry.kind, entry.body, entry.author, community, membership, entry.timestamp_ms)
    except InvalidBodyError as err:
        return [f"bad body: {err}"]
    if entry.kind == Kind.ADMIT:
        try:
            check_own_admit(
                entry.body, entry.timestamp_ms, community.community_id, membership.is_member
            )
        except InvalidBodyError as err:
            return [str(err)]
    return []
