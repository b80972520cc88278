"""The SQLite store and the ingest path. Synchronous: the async Ledger runs every call
of one LedgerStore on a single dedicated thread, so its state needs no locks.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .admission import check_own_admit
from .codec import (
    DEFAULT_LIMITS,
    ZERO_HASH,
    Entry,
    Limits,
    decode_entry,
    decode_frames,
    encode_frame,
    encode_header,
)
from .community import Community
from .equivocation import EquivocationProof
from .errors import (
    CommunityMismatchError,
    InvalidBodyError,
    LedgerError,
    MalformedBatchError,
    NotAMemberError,
    RejectReason,
    SigningHeldError,
)
from .identity import Identity
from .kinds import ACCEPTED_KINDS, Kind, granted_key
from .membership import Membership
from .reader import read_ranges
from .validation import BatchCheck, IngestResult, check_body

_LOGGER = logging.getLogger(__name__)

DB_FILE_NAME = "ledger.sqlite3"
SCHEMA_VERSION = 1
DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    # id is the local ingest order: serving in it keeps admits before the admitted.
    "CREATE TABLE IF NOT EXISTS entries ("
    " id INTEGER PRIMARY KEY, author BLOB NOT NULL, seq INTEGER NOT NULL,"
    " hash BLOB NOT NULL, kind INTEGER NOT NULL, ts_ms INTEGER NOT NULL, raw BLOB NOT NULL,"
    " UNIQUE (author, seq))",
    "CREATE UNIQUE INDEX IF NOT EXISTS entries_hash ON entries (hash)",
    "CREATE TABLE IF NOT EXISTS equivocations ("
    " author BLOB NOT NULL, seq INTEGER NOT NULL, proof BLOB NOT NULL,"
    " PRIMARY KEY (author, seq))",
)

_INSERT = "INSERT INTO entries (author, seq, hash, kind, ts_ms, raw) VALUES (?, ?, ?, ?, ?, ?)"
_SYNC_MODES = ("FULL", "NORMAL", "EXTRA")

Head = tuple[int, bytes, int]  # seq, hash, timestamp_ms
Frontier = dict[bytes, tuple[int, bytes]]


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class LedgerStore:
    """A community's entries in one SQLite file (WAL), with chain heads kept in memory."""

    def __init__(
        self,
        path: Path,
        community: Community,
        identity: Identity | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
        synchronous: str = "FULL",
        ingest_synchronous: str = "NORMAL",
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        for mode in (synchronous, ingest_synchronous):
            if mode not in _SYNC_MODES:
                raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA: {mode}")
        # Own entries are fsynced at commit (FULL): losing an acknowledged own entry to a
        # power cut could make the node sign another entry with the same seq, which is an
        # equivocation. Peers' entries only need to survive a crash of the process (WAL
        # with NORMAL does); a power cut may lose the last few, which sync fetches again.
        self._own_sync = synchronous
        self._ingest_sync = ingest_synchronous
        self._sync_mode = synchronous
        self.path = path
        self.community = community
        self.community_id = community.community_id
        self.identity = identity
        self.limits = limits
        self.max_future_ms = max_future_ms
        # Timestamps and the future check follow the node's clock, which a simulation
        # runs faster than the wall clock.
        self.clock_ms = clock_ms
        self.rejected: Counter[RejectReason] = Counter()
        self.stats: Counter[str] = Counter()
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("PRAGMA busy_timeout=5000")
        for statement in _SCHEMA:
            self._conn.execute(statement)
        self._check_meta()
        self.membership = Membership(community)
        self.heads: dict[bytes, Head] = {}
        self.equivocating: set[tuple[bytes, int]] = set()
        # While held nothing is signed: a node restarted from an older copy of its data
        # dir must first learn the newer entries of its own chain that peers hold, or it
        # signs a used seq (an equivocation). Proofs found meanwhile are published later.
        self.signing_held = False
        self._held_proofs: list[EquivocationProof] = []
        self._load_state()

    @classmethod
    def open_existing(cls, path: Path, *, synchronous: str = "FULL") -> LedgerStore:
        """Open a store with the community descriptor it recorded when it was created."""
        if not path.exists():
            raise LedgerError(f"no ledger store at {path}")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'community'").fetchone()
        if row is None:
            raise LedgerError(f"store {path} records no community")
        return cls(path, Community.from_bytes(row[0]), synchronous=synchronous)

    def _check_meta(self) -> None:
        descriptor = self.community.to_bytes()
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'community'").fetchone()
        if row is None:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT INTO meta VALUES ('community', ?)", (descriptor,))
            self._conn.execute(
                "INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION).encode(),)
            )
            self._conn.execute("COMMIT")
        elif row[0] != descriptor:
            raise CommunityMismatchError(
                f"store {self.path} belongs to community "
                f"{hashlib.sha256(row[0]).hexdigest()}, not {self.community_id.hex()}"
            )

    def _load_state(self) -> None:
        self.heads = {
            author: (seq, entry_hash, ts)
            for author, seq, entry_hash, ts in self._conn.execute(
                "SELECT author, seq, hash, ts_ms FROM entries AS e"
                " WHERE seq = (SELECT MAX(seq) FROM entries WHERE author = e.author)"
            )
        }
        self.membership = Membership(self.community)
        for (raw,) in self._conn.execute(
            "SELECT raw FROM entries WHERE kind IN (?, ?) ORDER BY id",
            (int(Kind.ADMIT), int(Kind.ROTATE)),
        ):
            entry = decode_entry(raw)
            granted = granted_key(entry.kind, entry.body)
            if granted is not None:
                self.membership.admit(granted)
        self.equivocating = {
            (author, seq)
            for author, seq in self._conn.execute("SELECT author, seq FROM equivocations")
        }

    def close(self) -> None:
        """Close the database (every acknowledged write is already committed)."""
        self._conn.close()

    # ----------------------------------------------------------------- ingest

    def ingest(self, data: bytes, now: int | None = None) -> IngestResult:
        """Validate a batch of frames and store the valid, new ones in one transaction.

        Entries are checked in order, then the ones refused only for a gap or an unknown
        author are retried while the batch makes progress, so a batch need not be sorted.
        """
        result = IngestResult()
        limits = self.limits
        if len(data) > limits.max_batch_bytes:
            self._refuse(result, RejectReason.BATCH_SIZE)
            return result
        try:
            entries, frame_rejects = decode_frames(data, limits)
        except MalformedBatchError as err:
            self._refuse(result, err.reason)
            return result
        if len(entries) + len(frame_rejects) > limits.max_batch_entries:
            self._refuse(result, RejectReason.BATCH_SIZE)
            return result
        for reason in frame_rejects:
            self._refuse(result, reason)
        now = self.clock_ms() if now is None else now
        batch = BatchCheck(self, now, result)
        batch.check_all(entries)
        self.rejected.update(batch.refused)
        new_proofs = batch.new_proofs
        rows = [
            (e.author, e.seq, e.hash, e.kind, e.timestamp_ms, e.raw)
            for e in batch.in_batch.values()
        ]
        if rows or new_proofs:
            self._commit(rows, new_proofs, self._ingest_sync)
        self.stats["accepted"] += len(result.accepted)
        self.stats["duplicate"] += result.duplicates
        self.stats["equivocation"] += len(result.equivocations)
        own_proofs = [proof for proof, detected_here in new_proofs if detected_here]
        if own_proofs and self.signing_held:
            self._held_proofs.extend(own_proofs)
        elif own_proofs and self._may_write():
            for proof in own_proofs:
                result.accepted.append(self.append(Kind.EQUIVOCATION, proof.encode(), now))
        return result

    def _refuse(self, result: IngestResult, reason: RejectReason) -> None:
        result.rejected[reason] += 1
        self.rejected[reason] += 1

    def stored_hash(self, author: bytes, seq: int) -> bytes | None:
        """The hash of the stored entry at (author, seq), if any."""
        row = self._conn.execute(
            "SELECT hash FROM entries WHERE author = ? AND seq = ?", (author, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def stored_entry(self, author: bytes, seq: int) -> Entry:
        """The stored entry at (author, seq), which must be held."""
        (raw,) = self._conn.execute(
            "SELECT raw FROM entries WHERE author = ? AND seq = ?", (author, seq)
        ).fetchone()
        return decode_entry(raw, self.limits)

    def _commit(
        self,
        rows: Sequence[tuple[bytes, int, bytes, int, int, bytes]],
        proofs: Iterable[tuple[EquivocationProof, bool]],
        synchronous: str,
    ) -> None:
        conn = self._conn
        if synchronous != self._sync_mode:
            conn.execute(f"PRAGMA synchronous={synchronous}")
            self._sync_mode = synchronous
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, rows)
            conn.executemany(
                "INSERT OR IGNORE INTO equivocations (author, seq, proof) VALUES (?, ?, ?)",
                [(proof.author, proof.seq, proof.encode()) for proof, _here in proofs],
            )
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._load_state()  # the in-memory heads already moved on; undo that
            raise

    # ----------------------------------------------------------------- own entries

    def _may_write(self) -> bool:
        return self.identity is not None and self.membership.is_member(self.identity.public_key)

    def release_signing(self) -> list[Entry]:
        """Sign again; publishes the proofs found while held and returns those entries."""
        self.signing_held = False
        proofs, self._held_proofs = self._held_proofs, []
        if not proofs or not self._may_write():
            return []
        return self.append_many([(Kind.EQUIVOCATION, proof.encode()) for proof in proofs])

    def append(self, kind: int, body: bytes, now: int | None = None) -> Entry:
        """Sign and durably store one entry of this node's own chain."""
        return self.append_many([(kind, body)], now)[0]

    def append_many(
        self, items: Sequence[tuple[int, bytes]], now: int | None = None
    ) -> list[Entry]:
        """Sign and store several own entries in one transaction; returns them once committed."""
        identity = self.identity
        if identity is None:
            raise NotAMemberError("this store has no identity to sign with")
        author = identity.public_key
        if not self.membership.is_member(author):
            raise NotAMemberError(f"{identity.node_id} is not a member of the community")
        if self.signing_held:
            raise SigningHeldError("signing is held until this node has caught up its chain")
        now = self.clock_ms() if now is None else now
        head = self.heads.get(author)
        seq, prev, ts = (0, ZERO_HASH, now) if head is None else head
        ts = max(ts, now)
        entries: list[Entry] = []
        for kind, body in items:
            if kind not in ACCEPTED_KINDS:
                raise InvalidBodyError(f"kind {kind} is not accepted in protocol v1")
            if len(body) > self.limits.max_body_bytes:
                raise InvalidBodyError(f"body of {len(body)} bytes exceeds the limit")
            check_body(kind, body, author, self.community, self.membership, ts)
            if kind == Kind.ADMIT:
                check_own_admit(body, ts, self.community_id, self.membership.is_member)
            seq += 1
            header = encode_header(kind, self.community_id, author, seq, prev, ts, body)
            entry = decode_entry(encode_frame(header, identity.sign(header), body), self.limits)
            entries.append(entry)
            prev = entry.hash
        rows = [(e.author, e.seq, e.hash, e.kind, e.timestamp_ms, e.raw) for e in entries]
        self._commit(rows, (), self._own_sync)
        self.heads[author] = (seq, prev, ts)
        for entry in entries:
            granted = granted_key(entry.kind, entry.body)
            if granted is not None:
                self.membership.admit(granted)
        self.stats["appended"] += len(entries)
        return entries

    # ----------------------------------------------------------------- queries

    def frontier(self) -> Frontier:
        """{author: (seq, hash)} of every chain held."""
        return {author: (seq, entry_hash) for author, (seq, entry_hash, _ts) in self.heads.items()}

    def read_ranges(
        self, wants: Sequence[tuple[bytes, int]], max_entries: int, max_bytes: int
    ) -> tuple[list[bytes], bool]:
        """Frames of each wanted author from from_seq on (market.ledger.reader)."""
        return read_ranges(self._conn, wants, max_entries, max_bytes)

    def get(self, entry_hash: bytes) -> Entry | None:
        """The entry with this hash, if held."""
        row = self._conn.execute("SELECT raw FROM entries WHERE hash = ?", (entry_hash,)).fetchone()
        return None if row is None else decode_entry(row[0], self.limits)

    def entries(
        self, *, author: bytes | None = None, kind: int | None = None, limit: int = -1
    ) -> list[Entry]:
        """Entries in local ingest order, optionally of one author and/or kind."""
        sql = "SELECT raw FROM entries WHERE 1"
        params: list[object] = []
        if author is not None:
            sql += " AND author = ?"
            params.append(author)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [decode_entry(raw, self.limits) for (raw,) in self._conn.execute(sql, params)]

    def count(self) -> int:
        """Number of entries held."""
        row = self._conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(row[0])

    def equivocations(self) -> list[EquivocationProof]:
        """Every equivocation proof held, ordered by author and seq."""
        return [
            EquivocationProof.decode(proof)
            for (proof,) in self._conn.execute(
                "SELECT proof FROM equivocations ORDER BY author, seq"
            )
        ]

    def counters(self) -> dict[str, int]:
        """Accepted/duplicate/equivocation counts and rejections as `rejected_<reason>`."""
        counts = dict(self.stats)
        counts.update({f"rejected_{reason}": n for reason, n in self.rejected.items()})
        return counts
