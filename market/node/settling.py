"""A node's settlement duty (docs/settlement.md, "Agreement"): after each traded slot's
readings closed, settle it on the readings held, seal that, and judge the seals with the
clearing's rule, re-judging as readings and seals arrive; keep what was decided for
statements.

A slot nothing was traded in (no fill, or its clearing was disputed) needs no seal: its
statement is each household's meter at its own tariff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final, TypeVar

from ..ledger import Kind, Ledger, SettleBody
from ..ledger.errors import LedgerError, StorageError
from ..ledger.identity import Identity
from ..model import ClearingResult
from ..settlement.public import MeterReading, public_settlement, readings_root, settlement_hash
from ..settlement.records import OwnSlot, SettledSlot, SettleState
from ..settlement.slot import HouseholdSettlement
from ..settlement.store import SettlementStore, SettlementStoreError
from ..supervise import FaultLog
from ..terms import CommunityTerms
from .finality import SlotState, Verdict, judge
from .index import MarketIndex
from .settle_index import HeldReading

_LOGGER = logging.getLogger(__name__)

# Readings of authors who did not seal the quorum's root, tried in and out: 2**12
# candidate roots at most (the order set's bound, market.node.sealed_set).
MAX_UNSURE: Final = 12
# Slots judged again while disputed, for as long as the index holds their entries.
KEEP_S: Final = 86_400

R = TypeVar("R")

Query = Callable[[SettlementStore, int, int], R]

Clearing = Callable[[int, int], ClearingResult | None]
"""The final clearing result of a slot at a time (ms), or None when it is not final."""


@dataclass(slots=True)
class _Open:
    """A traded slot being settled: its clearing result and what was last recorded."""

    result: ClearingResult
    recorded: SettledSlot | None = None
    # disputed no earlier than this (ms): a slot settled after its deadline (the node
    # was away) waits a gate lead for the seals it lacks before it is told disputed
    dispute_after_ms: int = 0

    def dispute_at(self, deadline_ms: int) -> int:
        """When the slot can be recorded disputed."""
        return max(deadline_ms, self.dispute_after_ms)


def _recent(store: SettlementStore, start: int, end: int) -> tuple[list[SettledSlot], set[int]]:
    return store.slots(start, end), set(store.own(start, end))


def _reading_set(readings: dict[bytes, HeldReading]) -> dict[str, MeterReading]:
    return {key.hex(): held.reading for key, held in readings.items()}


class SettlementKeeper:
    """Settles, seals and judges the community's slots at this node."""

    def __init__(
        self,
        ledger: Ledger,
        identity: Identity,
        index: MarketIndex,
        data_dir: Path,
        stats: dict[str, int],
        clearing: Clearing,
        own_slot: Callable[[int], OwnSlot],
        on_settled: Callable[[SettledSlot], None],
        writes: FaultLog,
    ) -> None:
        self.ledger = ledger
        self.identity = identity
        self.index = index
        self.terms: CommunityTerms = ledger.community.terms
        self.stats = stats
        self._data_dir = data_dir
        self._clearing = clearing
        self._own_slot = own_slot
        self._on_settled = on_settled
        self._writes = writes
        self._told: set[int] = set()
        self._searched: dict[int, tuple[bytes | None, frozenset[bytes], frozenset[bytes]]] = {}
        self._me = identity.public_key.hex()
        # what the store held of the last day at start (market.node restarted)
        self._stored: dict[int, SettledSlot] = {}
        self._own_stored: set[int] = set()
        self._open: dict[int, _Open] = {}
        self._no_trades: dict[int, SettledSlot] = {}
        self._next_slot = 0
        # one thread: writes keep their order, and the event loop never waits on SQLite
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="p2p-settlement")
        self._store: SettlementStore | None = None
        self.faults = FaultLog("recording a settlement", stats, "settlement_store_failures")

    async def open(self, now_ms: int) -> None:
        """Open the store and learn what it holds of the last day (raises
        SettlementStoreError)."""
        loop = asyncio.get_running_loop()
        store = await loop.run_in_executor(self._executor, SettlementStore.in_dir, self._data_dir)
        self._store = store
        since = self.terms.slot_of(now_ms // 1000 - KEEP_S)
        recent, own = await self.read(_recent, since, now_ms // 1000)
        self._stored = {settled.slot: settled for settled in recent}
        self._own_stored = own

    def start(self, now_ms: int) -> None:
        """Settle from the last day's slots on: those settled before a restart are
        skipped, those missed meanwhile settled from the entries held (judged, never
        sealed past their deadline), those left disputed judged again."""
        self._next_slot = self.terms.slot_of(now_ms // 1000 - KEEP_S)

    async def close(self) -> None:
        """Finish the writes queued and close the store."""
        store, self._store = self._store, None
        if store is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, store.close)
        self._executor.shutdown(wait=True)

    async def read(self, query: Query[R], start: int, end: int) -> R:
        """Run `query(store, start, end)` in the store's thread (raises
        SettlementStoreError, or when the node has no store open)."""
        store = self._store
        if store is None:
            raise SettlementStoreError("the node's settlement store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, query, store, start, end)

    def next_due_ms(self, now_ms: int) -> int:
        """When the next slot is to be settled, or an open one's deadline passes."""
        due = [self.terms.settle_time(self._next_slot) * 1000]
        due += [
            at
            for at in (
                held.dispute_at(self.terms.settle_deadline(slot) * 1000)
                for slot, held in self._open.items()
                if held.recorded is None
            )
            if at > now_ms
        ]
        return min(due)

    # ------------------------------------------------------------------ settling

    async def settle_due(self, now_ms: int, *, may_sign: bool = True) -> None:
        """Settle every slot whose settle time has come; judge the open ones."""
        terms = self.terms
        while terms.settle_time(self._next_slot) * 1000 <= now_ms:
            slot = self._next_slot
            self._next_slot += terms.slot_s
            stored = self._stored.pop(slot, None)
            if stored is not None and stored.verified:
                continue  # settled before a restart
            result = self._clearing(slot, now_ms)
            if result is None or not result.fills:
                self._settle_without_trades(slot)
                continue
            missed = now_ms >= terms.settle_deadline(slot) * 1000
            wait_ms = terms.gate_lead_s * 1000 if missed else 0
            self._open[slot] = _Open(result, stored, now_ms + wait_ms)
            if missed:
                continue  # missed while the node was off: a seal would not count
            if may_sign:
                await self._seal(slot, result)
            else:
                self.stats["settle_seals_skipped"] += 1

        self.judge(list(self._open), now_ms)

    def _rows(
        self, slot: int, result: ClearingResult, readings: dict[str, MeterReading]
    ) -> tuple[HouseholdSettlement, ...]:
        household_of: dict[str, str] = {}
        for fill in result.fills:
            order = self.index.get_order(bytes.fromhex(fill.order_id))
            if order is not None:  # the final result's orders are held: the index built it
                household_of[fill.order_id] = order.author.hex()
        fills = [fill for fill in result.fills if fill.order_id in household_of]
        return public_settlement(fills, household_of, readings)

    def _settle_without_trades(self, slot: int) -> None:
        readings = self.index.settlements.readings(slot)
        rows = public_settlement((), {}, _reading_set(readings))
        if not rows:
            return  # nobody was read: nothing to state (a slot before the node joined)
        settled = SettledSlot(slot, SettleState.NO_TRADES, rows)
        if self._no_trades.get(slot) != settled:
            self._no_trades[slot] = settled
            self._record(settled)

    async def _seal(self, slot: int, result: ClearingResult) -> None:
        me = self.identity.public_key
        if me in self.index.settlements.seals(slot):
            return  # sealed before a restart
        if self.index.admissions.revocation(me) is not None:
            return  # a revoked key's seals count nowhere
        readings = self.index.settlements.readings(slot)
        root = readings_root(held.hash for held in readings.values())
        rows = self._rows(slot, result, _reading_set(readings))
        body = SettleBody(slot, root, settlement_hash(slot, rows))
        try:
            await self.ledger.append(Kind.SETTLE, body.encode())
        except StorageError as err:
            self._writes.failed(err)  # a full disk: the user is told (the node's fault)
            return
        except LedgerError as err:
            self.stats["append_failures"] += 1
            _LOGGER.warning("could not seal the settlement of slot %s: %s", slot, err)
            return
        self.stats["settle_seals"] += 1

    # ------------------------------------------------------------------ judging

    def on_entries(self, slots: frozenset[int], now_ms: int) -> None:
        """Readings or settle seals of `slots` arrived: re-record the untraded ones,
        judge the open ones."""
        for slot in slots:
            if slot in self._no_trades:
                self._settle_without_trades(slot)
        self.judge([slot for slot in slots if slot in self._open], now_ms)

    def judge(self, slots: Iterable[int], now_ms: int) -> None:
        """Judge the open `slots`; forget those settled or disputed over a day ago."""
        for slot in sorted(slots):
            self._judge(slot, now_ms)
        horizon = now_ms // 1000 - KEEP_S
        for table in (self._open, self._no_trades):
            for slot in [slot for slot in table if slot < horizon]:
                del table[slot]
        self._told = {slot for slot in self._told if slot >= horizon}
        self._searched = {slot: memo for slot, memo in self._searched.items() if slot >= horizon}
        self._own_stored = {slot for slot in self._own_stored if slot >= horizon}

    def _judge(self, slot: int, now_ms: int) -> None:
        held = self._open.get(slot)
        if held is None:
            return
        verdict = judge(
            self.index.settlements.seals(slot),
            self.index.electorate(slot),
            deadline_ms=self.terms.settle_deadline(slot) * 1000,
            now_ms=now_ms,
        )
        if verdict.state is SlotState.PENDING:
            return
        if verdict.state is SlotState.FINAL:
            found = self._quorum_rows(slot, held.result, verdict)
            if found is not None:
                root, rows = found
                assert verdict.result_hash is not None
                settled = SettledSlot(slot, SettleState.FINAL, rows, root, verdict.result_hash)
                del self._open[slot]
                self.stats["settlements_final"] += 1
                self._record(settled)
                return
            if now_ms < self.terms.settle_deadline(slot) * 1000:
                return  # final on readings this node may still receive
        if now_ms < held.dispute_at(self.terms.settle_deadline(slot) * 1000):
            return
        if held.recorded is None:
            # disputed (or final on readings this node does not hold yet): the own view,
            # counted apart in statements until a quorum's result is found
            readings = self.index.settlements.readings(slot)
            rows = self._rows(slot, held.result, _reading_set(readings))
            root = readings_root(r.hash for r in readings.values())
            held.recorded = SettledSlot(slot, SettleState.DISPUTED, rows, root)
            self.stats["settlements_disputed"] += 1
            self._record(held.recorded)

    def _quorum_rows(
        self, slot: int, result: ClearingResult, verdict: Verdict
    ) -> tuple[bytes, tuple[HouseholdSettlement, ...]] | None:
        """The readings the quorum sealed among those held, and their settlement: every
        held reading of an agreeing sealer (it held its own when it sealed), each of the
        others in or out."""
        root = verdict.order_root
        readings = self.index.settlements.readings(slot)
        agreeing = {
            key
            for key, seal in self.index.settlements.seals(slot).items()
            if seal.order_root == root
        }
        # searched again only when what it searches among changed: a reading or a seal
        # arriving for a slot that stays disputed must not cost a search each time
        memo = (root, frozenset(held.hash for held in readings.values()), frozenset(agreeing))
        if self._searched.get(slot) == memo:
            return None
        self._searched[slot] = memo
        base = {key: held for key, held in readings.items() if key in agreeing}
        unsure = sorted((key, held) for key, held in readings.items() if key not in agreeing)
        if len(unsure) > MAX_UNSURE:
            return None
        for mask in range(1 << len(unsure)):
            chosen = dict(base)
            chosen.update(pair for bit, pair in enumerate(unsure) if mask >> bit & 1)
            if readings_root(held.hash for held in chosen.values()) != root:
                continue
            rows = self._rows(slot, result, _reading_set(chosen))
            if settlement_hash(slot, rows) == verdict.result_hash:
                return root, rows
            if slot not in self._told:  # judged again on every entry: one line per slot
                self._told.add(slot)
                _LOGGER.warning("slot %s: the quorum's settlement differs from this node's", slot)
            return None
        return None

    # ------------------------------------------------------------------ recording

    def _record(self, settled: SettledSlot) -> None:
        store = self._store
        if store is not None:
            self._write(partial(store.put, settled))
            slot = settled.slot
            # the own prices once, when the household has a row (read or traded)
            if slot not in self._own_stored and settled.row(self._me) is not None:
                self._own_stored.add(slot)
                self._write(partial(store.put_own, self._own_slot(slot)))
        self._on_settled(settled)

    def _write(self, job: Callable[[], None]) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._executor, job)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[None]) -> None:
        err = future.exception()
        if err is None:
            self.faults.recovered()
        elif isinstance(err, SettlementStoreError):
            self.faults.failed(err)
        else:
            _LOGGER.error("settlement store failed", exc_info=err)
            self.stats["settlement_store_failures"] += 1
