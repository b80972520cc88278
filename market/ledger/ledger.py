"""The async face of a node's ledger: every store call runs on one dedicated thread."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .codec import DEFAULT_LIMITS, Entry, Limits
from .community import Community
from .equivocation import EquivocationProof
from .errors import StorageError, StoreClosedError
from .identity import Identity
from .reader import LedgerReader
from .store import DB_FILE_NAME, DEFAULT_MAX_FUTURE_MS, Frontier, LedgerStore, now_ms
from .validation import IngestResult

# A TypeVar rather than `def _run[T]`: the engine runs on Python 3.11.
_T = TypeVar("_T")

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Origin:
    """The peer that sent learnt entries: its key when known (always for a push, which
    the peer signs) and the address they were pulled from (for a pull)."""

    key: bytes | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.key is None and self.url is None:
            raise ValueError("an origin needs the peer's key or its address")

    def is_peer(self, key: bytes | None, url: str) -> bool:
        """True when the peer with this key (None: unknown) and base URL sent them."""
        return (self.key is not None and self.key == key) or self.url == url


# Called on the event loop with the newly stored entries and where they came from
# (None for the node's own appends).
Listener = Callable[[Sequence[Entry], Origin | None], None]


class Ledger:
    """A node's ledger. Use `await Ledger.open(...)`; all methods are coroutines except
    the in-memory reads `is_member`, `counters` and the listener registration."""

    def __init__(self, store: LedgerStore, executor: ThreadPoolExecutor) -> None:
        self._store = store
        self._executor = executor
        # Peers' pulls read beside the writer, never queued before an own append.
        self.reader = LedgerReader(store.path)
        self._listeners: list[Listener] = []
        self._closed = False
        self.community = store.community
        self.community_id = store.community_id
        self.identity = store.identity
        self.limits = store.limits

    @classmethod
    async def open(
        cls,
        directory: Path,
        community: Community,
        identity: Identity | None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
        synchronous: str = "FULL",
        ingest_synchronous: str = "NORMAL",
        clock_ms: Callable[[], int] = now_ms,
    ) -> Ledger:
        """Open (creating if needed) the store `directory/ledger.sqlite3`.

        `synchronous` applies to own appends, `ingest_synchronous` to entries from peers
        (SQLite PRAGMA synchronous values; see LedgerStore). `clock_ms` stamps own
        entries and bounds peers' timestamps (the node's clock; wall clock by default).
        """
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

        def _open() -> LedgerStore:
            directory.mkdir(parents=True, exist_ok=True)
            return LedgerStore(
                directory / DB_FILE_NAME,
                community,
                identity,
                limits=limits,
                max_future_ms=max_future_ms,
                synchronous=synchronous,
                ingest_synchronous=ingest_synchronous,
                clock_ms=clock_ms,
            )

        try:
            store = await asyncio.get_running_loop().run_in_executor(executor, _open)
        except sqlite3.Error as err:  # a read-only or unreadable file: a LedgerError
            executor.shutdown(wait=False)
            raise StorageError(f"the ledger's database cannot be opened: {err}") from err
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(store, executor)

    async def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        if self._closed:
            raise StoreClosedError("the ledger is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
        except sqlite3.Error as err:  # one error type for callers: a LedgerError
            raise StorageError(f"the ledger's database failed: {err}") from err

    async def close(self) -> None:
        """Close the store; pending calls finish first."""
        if self._closed:
            return
        await self.reader.close()
        await self._run(self._store.close)
        self._closed = True
        self._executor.shutdown(wait=True)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Be told of every newly stored entry; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self, entries: Sequence[Entry], origin: Origin | None) -> None:
        if not entries:
            return
        for listener in list(self._listeners):
            try:
                listener(entries, origin)
            except Exception:  # a faulty listener must not break ingestion for the others
                _LOGGER.exception("ledger listener failed")

    async def append(self, kind: int, body: bytes) -> Entry:
        """Sign and store an own entry; returns once it is committed to disk."""
        entry = await self._run(self._store.append, kind, body)
        self._notify([entry], None)
        return entry

    async def append_many(self, items: Sequence[tuple[int, bytes]]) -> list[Entry]:
        """Sign and store several own entries in one transaction."""
        entries = await self._run(self._store.append_many, items)
        self._notify(entries, None)
        return entries

    def hold_signing(self) -> None:
        """Refuse every own append (SigningHeldError) until `release_signing`."""
        self._store.signing_held = True

    @property
    def signing_held(self) -> bool:
        """Whether own appends are refused."""
        return self._store.signing_held

    async def release_signing(self) -> list[Entry]:
        """Sign again, publishing the equivocation proofs found while held."""
        entries = await self._run(self._store.release_signing)
        self._notify(entries, None)
        return entries

    async def ingest(self, data: bytes, origin: Origin | None = None) -> IngestResult:
        """Validate and store a batch of frames received from a peer (`origin`, which
        listeners are told; None treats them as the node's own)."""
        result = await self._run(self._store.ingest, data)
        self._notify(result.accepted, origin)
        return result

    async def frontier(self) -> Frontier:
        """{author: (seq, hash)} of every chain held."""
        return await self._run(self._store.frontier)

    async def read_ranges(
        self, wants: Sequence[tuple[bytes, int]], max_entries: int, max_bytes: int
    ) -> tuple[list[bytes], bool]:
        """Frames from each (author, from_seq) on, bounded; and whether more remain.

        Read on the reader's thread: what a peer asks for never delays own appends."""
        if self._closed:
            raise StoreClosedError("the ledger is closed")
        try:
            return await self.reader.read_ranges(wants, max_entries, max_bytes)
        except sqlite3.Error as err:
            raise StorageError(f"the ledger's database failed: {err}") from err

    async def get(self, entry_hash: bytes) -> Entry | None:
        """The entry with this hash, if held."""
        return await self._run(self._store.get, entry_hash)

    async def entries(
        self, *, author: bytes | None = None, kind: int | None = None, limit: int = -1
    ) -> list[Entry]:
        """Entries in local ingest order, optionally filtered."""

        def _query() -> list[Entry]:
            return self._store.entries(author=author, kind=kind, limit=limit)

        return await self._run(_query)

    async def count(self) -> int:
        """Number of entries held."""
        return await self._run(self._store.count)

    async def equivocations(self) -> list[EquivocationProof]:
        """Every equivocation proof held."""
        return await self._run(self._store.equivocations)

    async def equivocations_by(self, author: bytes) -> list[int]:
        """The seqs at which author is proven to have equivocated (empty for honest ones)."""

        def _seqs() -> list[int]:
            return sorted(seq for key, seq in self._store.equivocating if key == author)

        return await self._run(_seqs)

    def is_member(self, key: bytes) -> bool:
        """Whether key may write (safe from the loop: the set only ever grows)."""
        return self._store.membership.is_member(key)

    def counters(self) -> dict[str, int]:
        """Ingest counters, rejections as `rejected_<reason>`."""
        return self._store.counters()
