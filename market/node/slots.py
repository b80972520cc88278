"""A node's slot lifecycle: seal each slot at its seal time, judge it from then on (never
earlier, whatever a peer's clock says) as the entries its verdict depends on arrive and
at its start, and remember the outcomes for a day.

Sealing and judging are the node's only consensus duties; they read the order sets
from the index and write seals through the ledger, and tell the node what was decided.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Final

from ..auction import clear
from ..ledger import Kind, Ledger, SealBody
from ..ledger.errors import LedgerError, StorageError
from ..ledger.identity import Identity
from ..model import ClearingResult
from ..supervise import FaultLog
from ..terms import CommunityTerms
from .events import OwnFill, SlotCleared, SlotDisputed
from .finality import SlotState, Verdict, judge
from .index import MarketIndex, OrderStatus, order_root
from .sealed_set import sealed_order_set
from .views import SlotOutcome

_LOGGER = logging.getLogger(__name__)

# Decided slots are kept this long for the order book and status, then forgotten.
KEEP_S: Final = 86_400

# Called once per decision with the outcome and the own fills (Wh per own order hash).
Decided = Callable[[SlotOutcome, dict[bytes, int]], None]


class SlotKeeper:
    """Seals and judges the community's slots at this node."""

    def __init__(
        self,
        ledger: Ledger,
        identity: Identity,
        index: MarketIndex,
        stats: dict[str, int],
        source_of: Callable[[bytes], str],
        on_decided: Decided,
        on_prune: Callable[[int], None],
        writes: FaultLog,
    ) -> None:
        self.ledger = ledger
        self.identity = identity
        self.index = index
        self.terms: CommunityTerms = ledger.community.terms
        self.stats = stats
        self._writes = writes
        self._source_of = source_of
        self._on_decided = on_decided
        self._on_prune = on_prune
        self._outcomes: dict[int, SlotOutcome] = {}
        # per slot: the (root, book size) last searched, and the problem last logged
        self._searched: dict[int, tuple[bytes, tuple[tuple[bytes, OrderStatus], ...]]] = {}
        self._told: dict[int, str] = {}
        self._own_results: dict[int, tuple[bytes, ClearingResult]] = {}
        self._started_ms = 0
        self._next_seal_slot = 0
        self._next_judge_slot = 0

    def start(self, now_ms: int) -> None:
        """Seal from the current slot on; judge from the next one, at once for the slots
        whose seals this node already holds (it restarted after their seal time)."""
        self._started_ms = now_ms
        first = self.terms.slot_of(now_ms // 1000)
        self._next_seal_slot = first
        # the current slot has started: its outcome was decided without this node
        self._next_judge_slot = first + self.terms.slot_s
        held = [slot for slot in self.index.slots_with_entries() if slot >= self._next_judge_slot]
        self.on_entries(held, now_ms)

    def next_due_ms(self) -> int:
        """When the next seal or judgement is due."""
        return min(self.terms.seal_time(self._next_seal_slot) * 1000, self._next_judge_slot * 1000)

    def outcome(self, slot: int) -> SlotOutcome | None:
        """The slot's outcome once decided at this node."""
        return self._outcomes.get(slot)

    def final_result(self, slot: int, now_ms: int) -> ClearingResult | None:
        """The slot's final clearing result, or None while it is not final here. A slot
        this node did not decide (it restarted since) is judged from the seals held,
        quietly: its outcome was told before."""
        outcome = self._outcomes.get(slot)
        if outcome is not None:
            return outcome.result
        seals, electorate = self.index.seals(slot), self.index.electorate(slot)
        verdict = judge(seals, electorate, deadline_ms=slot * 1000, now_ms=now_ms)
        return self._result_for(slot, verdict) if verdict.state is SlotState.FINAL else None

    def outcomes(self) -> list[SlotOutcome]:
        """Decided slots still remembered, oldest first."""
        return [self._outcomes[slot] for slot in sorted(self._outcomes)]

    def on_entries(self, slots: Iterable[int], now_ms: int) -> None:
        """Entries arrived that verdicts depend on: orders, cancels or seals of `slots`,
        and activity that may change any electorate. Judges those of `slots` whose seal
        time has come on this node's clock (a slot is never judged on the strength of
        seals from a clock running ahead), and again every slot still disputed here: its
        verdict may be a quorum's that this node did not hold in full at the deadline."""
        now_s = now_ms // 1000
        due = {
            slot for slot in slots if self.terms.seal_time(slot) <= now_s and slot >= now_s - KEEP_S
        }
        due.update(
            slot for slot, outcome in self._outcomes.items() if outcome.state is SlotState.DISPUTED
        )
        for slot in sorted(due):
            self._judge(slot, now_ms)

    # ------------------------------------------------------------------ sealing

    async def seal_due(self, now_ms: int, *, may_sign: bool = True) -> None:
        """Seal every slot whose seal time has come (skip them, counted, unless
        `may_sign`: a node still learning its own chain signs nothing)."""
        terms = self.terms
        while terms.seal_time(self._next_seal_slot) * 1000 <= now_ms:
            slot = self._next_seal_slot
            self._next_seal_slot += terms.slot_s
            if terms.seal_time(slot) * 1000 < self._started_ms:
                continue  # the node was not running at this seal time: others seal it
            if self.identity.public_key in self.index.seals(slot):
                continue  # sealed before a restart
            if self.index.admissions.revocation(self.identity.public_key) is not None:
                continue  # a revoked key's seals count nowhere: it left, or was removed
            if not may_sign:
                self.stats["seals_skipped"] += 1
                continue
            await self._seal(slot)

    def _clear_held(self, slot: int) -> tuple[bytes, ClearingResult, bytes]:
        """Clear the order set held for `slot`: (order-set root, result, result hash)."""
        orders = self.index.order_set(slot)
        root = order_root(order.hash for order in orders)
        result = clear([order.to_order() for order in orders], self.terms.clearing_params())
        return root, result, hashlib.sha256(result.to_canonical_json()).digest()

    async def _seal(self, slot: int) -> None:
        root, result, result_hash = self._clear_held(slot)
        self._own_results[slot] = (root, result)
        try:
            await self.ledger.append(Kind.SEAL, SealBody(slot, root, result_hash).encode())
        except StorageError as err:
            self._writes.failed(err)  # a full disk: the user is told (the node's fault)
            return
        except LedgerError as err:
            self.stats["append_failures"] += 1
            _LOGGER.warning("could not seal slot %s: %s", slot, err)
            return
        self.stats["seals"] += 1
        _LOGGER.debug("sealed slot %s: %d fills, %d Wh", slot, len(result.fills), result.volume_wh)

    # ------------------------------------------------------------------ judging

    def judge_due(self, now_ms: int) -> None:
        """Judge every slot that has started; forget those decided over a day ago."""
        while self._next_judge_slot * 1000 <= now_ms:
            slot = self._next_judge_slot
            self._next_judge_slot += self.terms.slot_s
            self._judge(slot, now_ms)
        horizon = (now_ms // 1000) - KEEP_S
        stale = [slot for slot in self._outcomes if slot < horizon]
        for slot in stale:
            del self._outcomes[slot]
            self._own_results.pop(slot, None)
            self._searched.pop(slot, None)
            self._told.pop(slot, None)
        if stale:
            self._on_prune(self.terms.slot_of(horizon))

    def _judge(self, slot: int, now: int) -> None:
        previous = self._outcomes.get(slot)
        if previous is not None and previous.state is SlotState.FINAL:
            return
        deadline = slot * 1000
        verdict = judge(
            self.index.seals(slot), self.index.electorate(slot), deadline_ms=deadline, now_ms=now
        )
        if verdict.state is SlotState.FINAL:
            result = self._result_for(slot, verdict)
            if result is not None:
                late = now >= deadline or previous is not None
                self._decide(slot, verdict, result, late)
                return
            verdict = Verdict(
                SlotState.DISPUTED,
                None,
                None,
                verdict.agreeing,
                verdict.seals,
                verdict.electorate,
                "result_unavailable",
            )
        if verdict.state is SlotState.DISPUTED and previous is None:
            self._decide(slot, verdict, None, now >= deadline)

    def _result_for(self, slot: int, verdict: Verdict) -> ClearingResult | None:
        own = self._own_results.get(slot)
        if own is not None and own[0] == verdict.order_root:
            return own[1]
        # Recompute from what is held now (a node that was away holds it after sync).
        root, result, result_hash = self._clear_held(slot)
        if root != verdict.order_root:
            found = self._search(slot, verdict)
            if found is None:
                return None
            result, result_hash = found
        if result_hash != verdict.result_hash:
            self._tell_once(slot, "the quorum's result differs from this node's clearing")
            return None
        return result

    def _search(self, slot: int, verdict: Verdict) -> tuple[ClearingResult, bytes] | None:
        """The quorum's set among the held orders (market.node.sealed_set), searched
        again only when the slot's book changed (an order, or a status: a late cancel)."""
        root = verdict.order_root
        if root is None:
            return None
        book = self.index.book(slot)
        key = (root, tuple((order.hash, status) for order, status in book))
        if self._searched.get(slot) == key:
            return None
        self._searched[slot] = key
        orders = sealed_order_set(self.index.seals(slot), book, root)
        if orders is None:
            self._tell_once(slot, "final on an order set this node does not hold")
            return None
        result = clear([order.to_order() for order in orders], self.terms.clearing_params())
        return result, hashlib.sha256(result.to_canonical_json()).digest()

    def _tell_once(self, slot: int, problem: str) -> None:
        # judged again on every entry while disputed: one line per slot, not per entry
        if self._told.get(slot) != problem:
            self._told[slot] = problem
            _LOGGER.warning("slot %s: %s", slot, problem)

    def _decide(
        self, slot: int, verdict: Verdict, result: ClearingResult | None, late: bool
    ) -> None:
        own_fills: dict[bytes, int] = {}
        if result is None:
            event: SlotCleared | SlotDisputed = SlotDisputed(
                slot, verdict.reason or "no_quorum", verdict.seals, verdict.electorate
            )
            self.stats["slots_disputed"] += 1
        else:
            fills = self._own_fills(result)
            for fill in fills:
                key = bytes.fromhex(fill.order_id)
                own_fills[key] = own_fills.get(key, 0) + fill.energy_wh
            event = SlotCleared(
                slot, result.price, result.volume_wh, result.mechanism, tuple(fills), late
            )
            self.stats["slots_final"] += 1
        outcome = SlotOutcome(slot, verdict.state, verdict, result, event)
        self._outcomes[slot] = outcome
        self._on_decided(outcome, own_fills)

    def _own_fills(self, result: ClearingResult) -> list[OwnFill]:
        me = self.identity.public_key
        fills: list[OwnFill] = []
        for fill in result.fills:
            order = self.index.get_order(bytes.fromhex(fill.order_id))
            if order is None or order.author != me:
                continue
            source = self._source_of(order.hash)
            fills.append(OwnFill(fill.order_id, fill.side, fill.energy_wh, fill.price, source))
        return fills
