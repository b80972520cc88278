"""What the node knows about the market, indexed from ledger entries.

Every node applies the same rules to the same entries, so the order set of a slot, its
root and the seals counted for it depend only on the ledger's content — never on the
order in which entries arrived.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from ..ledger.admission import Admissions
from ..ledger.codec import Entry, parse_header
from ..ledger.equivocation import EquivocationProof
from ..ledger.kinds import CancelBody, Kind, OrderBody, SealBody
from ..ledger.kinds import Side as LedgerSide
from ..model import Order, Side
from ..terms import CommunityTerms
from .finality import HeldSeal
from .settle_index import SettlementIndex

_ROOT_DOMAIN = b"p2p-energy order-set v1"
_COUNT = struct.Struct(">I")
# How far back a member's seals make it active for a slot (in slots before the gate).
ACTIVITY_SLOTS = 2
# Activity is kept per minute: fine enough for any slot length, small in memory.
_BUCKET_S = 60


class OrderStatus(StrEnum):
    """Why an order held for a slot is or is not in the slot's order set."""

    LIVE = "live"
    LATE = "late"  # timestamped at or after the gate closure
    CANCELLED = "cancelled"  # cancelled by its author before the gate closure
    EXPIRED = "expired"  # its own expiry falls before the gate closure
    EQUIVOCATOR = "equivocator"  # its author signed two entries with one seq (see forks)
    NOT_MEMBER = "not_member"  # its author's admission does not count (market.ledger.admission)
    REVOKED = "revoked"  # its author was revoked before the slot's gate closed


def to_model_side(side: int) -> Side:
    """The ledger's integer side as the auction's side."""
    return Side.BUY if side == LedgerSide.BUY else Side.SELL


def to_ledger_side(side: Side) -> LedgerSide:
    """The auction's side as the ledger's integer side."""
    return LedgerSide.BUY if side is Side.BUY else LedgerSide.SELL


@dataclass(frozen=True, slots=True)
class HeldOrder:
    """An order entry as the node holds it."""

    hash: bytes
    author: bytes
    timestamp_ms: int
    slot: int
    side: Side
    energy_wh: int
    price: int
    expires_s: int

    @property
    def order_id(self) -> str:
        """The order's id in clearing results: its entry hash in hex."""
        return self.hash.hex()

    def to_order(self) -> Order:
        """The auction's view of this order."""
        return Order(
            id=self.order_id,
            author=self.author.hex(),
            slot=self.slot,
            side=self.side,
            energy_wh=self.energy_wh,
            price=self.price,
        )


def fork_span(proof: EquivocationProof) -> tuple[int, int]:
    """The earliest and latest timestamps (ms) of a proof's two conflicting entries."""
    times = sorted(parse_header(header)[6] for header in (proof.header_a, proof.header_b))
    return times[0], times[1]


def order_root(hashes: Iterable[bytes]) -> bytes:
    """Commitment to an order set: SHA-256 over the sorted entry hashes and their count."""
    ordered = sorted(hashes)
    digest = hashlib.sha256(_ROOT_DOMAIN)
    digest.update(_COUNT.pack(len(ordered)))
    for entry_hash in ordered:
        digest.update(entry_hash)
    return digest.digest()


@dataclass(slots=True)
class _SlotEntries:
    orders: dict[bytes, HeldOrder] = field(default_factory=dict)
    seals: dict[bytes, HeldSeal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IndexUpdate:
    """What a batch of entries changed: slots with new orders or seals, new equivocators."""

    order_slots: frozenset[int]
    seal_slots: frozenset[int]
    equivocators: tuple[tuple[bytes, int], ...]
    # slots with new readings or settlement seals
    settle_slots: frozenset[int] = frozenset()


class MarketIndex:
    """Orders, cancels, seals, equivocators and member activity, by slot."""

    def __init__(self, terms: CommunityTerms, genesis: Iterable[bytes], created_ms: int) -> None:
        self.terms = terms
        # the counted members and when each was admitted (the descriptor's time for genesis)
        self.admissions = Admissions(genesis, created_ms)
        # readings and settlement seals (market.node.settle_index)
        self.settlements = SettlementIndex(terms, self.admissions)
        self._slots: dict[int, _SlotEntries] = {}
        self._orders: dict[bytes, HeldOrder] = {}
        # order hash -> timestamp of the author's earliest cancel of it
        self._cancels: dict[bytes, int] = {}
        # cancels seen before their order (gossip is per author, so rare but possible)
        self._cancel_authors: dict[bytes, bytes] = {}
        self.equivocators: dict[bytes, int] = {}
        # author -> (earliest, latest) timestamps of each pair of entries it signed with
        # one seq, from the proofs (see `status` and `electorate`)
        self._forks: dict[bytes, set[tuple[int, int]]] = {}
        # author -> minute buckets in which it sealed
        self._activity: dict[bytes, set[int]] = {}

    # ------------------------------------------------------------------ ingest

    def add(self, entries: Iterable[Entry]) -> IndexUpdate:
        """Index a batch of stored entries (any kinds; irrelevant ones only mark activity)."""
        order_slots: set[int] = set()
        seal_slots: set[int] = set()
        settle_slots: set[int] = set()
        equivocators: list[tuple[bytes, int]] = []
        for entry in entries:
            if entry.kind == Kind.ORDER:
                order = self._add_order(entry)
                order_slots.add(order.slot)
            elif entry.kind == Kind.CANCEL:
                slot = self._add_cancel(entry)
                if slot is not None:
                    order_slots.add(slot)
            elif entry.kind in (Kind.ADMIT, Kind.REVOKE, Kind.ROTATE):
                self.admissions.add(entry)
            elif entry.kind == Kind.SEAL:
                # only sealing makes a member active: keys that never seal never count
                self._activity.setdefault(entry.author, set()).add(
                    entry.timestamp_ms // 1000 // _BUCKET_S
                )
                seal_slots.add(self._add_seal(entry))
            elif entry.kind == Kind.READING:
                settle_slots.add(self.settlements.add_reading(entry))
            elif entry.kind == Kind.SETTLE:
                settle_slots.add(self.settlements.add_seal(entry))
            elif entry.kind == Kind.EQUIVOCATION:
                proof = EquivocationProof.decode(entry.body)
                self._forks.setdefault(proof.author, set()).add(fork_span(proof))
                if proof.author not in self.equivocators:
                    self.equivocators[proof.author] = proof.seq
                    equivocators.append((proof.author, proof.seq))
        return IndexUpdate(
            frozenset(order_slots),
            frozenset(seal_slots),
            tuple(equivocators),
            frozenset(settle_slots),
        )

    def _add_order(self, entry: Entry) -> HeldOrder:
        body = OrderBody.decode(entry.body)
        order = HeldOrder(
            hash=entry.hash,
            author=entry.author,
            timestamp_ms=entry.timestamp_ms,
            slot=body.slot,
            side=to_model_side(body.side),
            energy_wh=body.energy_wh,
            price=body.price,
            expires_s=body.expires_s,
        )
        self._orders[entry.hash] = order
        self._slot(order.slot).orders[entry.hash] = order
        if self._cancel_authors.get(entry.hash, entry.author) != entry.author:
            # a cancel by someone else never counted; forget it
            self._cancels.pop(entry.hash, None)
        self._cancel_authors.pop(entry.hash, None)
        return order

    def _add_cancel(self, entry: Entry) -> int | None:
        target = CancelBody.decode(entry.body).order_hash
        order = self._orders.get(target)
        if order is not None and order.author != entry.author:
            return None  # only the author may withdraw its order
        if order is None:
            self._cancel_authors[target] = entry.author
        previous = self._cancels.get(target)
        if previous is None or entry.timestamp_ms < previous:
            self._cancels[target] = entry.timestamp_ms
        return None if order is None else order.slot

    def _add_seal(self, entry: Entry) -> int:
        body = SealBody.decode(entry.body)
        seals = self._slot(body.slot).seals
        held = seals.get(entry.author)
        # One seal per member and slot: the first of its chain counts, so a member who
        # re-seals can never be counted for two results.
        if held is None or entry.seq < held.seq:
            seals[entry.author] = HeldSeal(
                entry.author, entry.seq, entry.timestamp_ms, body.order_root, body.result_hash
            )
        return body.slot

    def _slot(self, slot: int) -> _SlotEntries:
        held = self._slots.get(slot)
        if held is None:
            held = self._slots[slot] = _SlotEntries()
        return held

    # ------------------------------------------------------------------ rules

    def _forked(self, author: bytes, start_ms: int, end_ms: int) -> bool:
        """Whether a fork span of `author` overlaps [start_ms, end_ms]."""
        return any(lo <= end_ms and start_ms <= hi for lo, hi in self._forks.get(author, ()))

    def status(self, order: HeldOrder) -> OrderStatus:  # noqa: PLR0911 - one return per rule
        """The rule every node applies to decide whether an order is in its slot's set.

        An equivocator's orders are void in the slots its forks affect (those closing
        while it was forked, see `affected`) and, elsewhere, when they were signed while
        it was forked (they may stand on either of its two chains). Its other orders
        count: proofs and entries alone decide, so every node judges alike.
        """
        gate_ms = self.terms.gate_closure(order.slot) * 1000
        if self.affected(order.author, order.slot) or self._forked(
            order.author, order.timestamp_ms, order.timestamp_ms
        ):
            return OrderStatus.EQUIVOCATOR
        revocation = self.admissions.revocation(order.author)
        if revocation is not None and revocation.at_ms < gate_ms:
            # revoked before the gate closed: none of its orders for the slot trade,
            # those it signed before the revocation included (a key removed, or stolen,
            # must not trade on orders it placed for the days ahead)
            return OrderStatus.REVOKED
        if revocation is None and not self.admissions.is_member(order.author):
            return OrderStatus.NOT_MEMBER
        if order.timestamp_ms >= gate_ms:
            return OrderStatus.LATE
        cancelled_at = self._cancels.get(order.hash)
        if cancelled_at is not None and cancelled_at < gate_ms:
            return OrderStatus.CANCELLED
        if order.expires_s and order.expires_s <= self.terms.gate_closure(order.slot):
            return OrderStatus.EXPIRED
        return OrderStatus.LIVE

    def book(self, slot: int) -> list[tuple[HeldOrder, OrderStatus]]:
        """Every order held for `slot` with its status, oldest first."""
        held = self._slots.get(slot)
        if held is None:
            return []
        orders = sorted(held.orders.values(), key=lambda o: (o.timestamp_ms, o.hash))
        return [(order, self.status(order)) for order in orders]

    def order_set(self, slot: int) -> list[HeldOrder]:
        """The live orders of `slot`, the ones its clearing uses."""
        return [order for order, status in self.book(slot) if status is OrderStatus.LIVE]

    def get_order(self, order_hash: bytes) -> HeldOrder | None:
        """An order held, by entry hash."""
        return self._orders.get(order_hash)

    def seals(self, slot: int) -> dict[bytes, HeldSeal]:
        """The counted seal of each member for `slot`: a revoked key's seals signed at or
        after its revocation point count for nothing."""
        held = self._slots.get(slot)
        if held is None:
            return {}
        return {
            key: seal
            for key, seal in held.seals.items()
            if not self._revoked_by(key, seal.timestamp_ms)
        }

    def _revoked_by(self, key: bytes, at_ms: int) -> bool:
        revocation = self.admissions.revocation(key)
        return revocation is not None and revocation.at_ms <= at_ms

    def affected(self, author: bytes, slot: int) -> bool:
        """Whether a fork of `author` affects `slot`: one of its fork spans (from the
        earlier to the later timestamp of two entries it signed with one seq) overlaps
        the slot's closing period, from its gate closure to its start, in which its
        seals are signed and counted."""
        return self._forked(author, self.terms.gate_closure(slot) * 1000, slot * 1000 - 1)

    def electorate(self, slot: int) -> frozenset[bytes]:
        """The members whose seals make `slot` final.

        The activity window is the ACTIVITY_SLOTS slot lengths that end one slot length
        before the slot's gate closure. A counted member (market.ledger.admission) counts
        when it was admitted before the window ends and sealed within it; a genesis
        member also counts while the community's creation is within it (nobody could
        have sealed yet). So a household whose node has been off for a while stops
        blocking finality, and keys that never seal, however many were admitted, never
        count: a newcomer counts from the slots whose window holds its first seal. Read
        from entry timestamps only, so nodes holding the same entries count the same
        electorate; the window ends a whole slot before anyone seals so that its entries
        have time to reach everyone. An equivocator has no vote in the slots its forks
        affect. A revoked key is out of the electorate of every slot whose activity
        window ends after its revocation point, the mirror of how admissions enter it: the
        revoke then had a whole slot to reach every node before anyone seals.
        """
        slot_s = self.terms.slot_s
        end_s = self.terms.gate_closure(slot) - slot_s
        start_s = end_s - ACTIVITY_SLOTS * slot_s
        window = range(start_s // _BUCKET_S, end_s // _BUCKET_S)
        admissions = self.admissions
        return frozenset(
            key
            for key, admitted_ms in admissions.counted().items()
            if not self.affected(key, slot)
            and admitted_ms < end_s * 1000
            and not self._revoked_by(key, end_s * 1000)
            and (
                (admitted_ms >= start_s * 1000 and admissions.is_genesis(key))
                or any(bucket in window for bucket in self._activity.get(key, ()))
            )
        )

    def members(self) -> frozenset[bytes]:
        """Every counted member key (genesis and admitted)."""
        return frozenset(self.admissions.members())

    def is_member(self, key: bytes) -> bool:
        """True for a counted member: its orders, seals and vote count."""
        return self.admissions.is_member(key)

    def slots_with_entries(self) -> list[int]:
        """Slots for which anything is held, ascending."""
        return sorted(self._slots)

    def prune(self, before_slot: int) -> None:
        """Forget slots before `before_slot` (their outcome is decided)."""
        self.settlements.prune(before_slot)
        for slot in [slot for slot in self._slots if slot < before_slot]:
            for order_hash in self._slots.pop(slot).orders:
                self._orders.pop(order_hash, None)
                self._cancels.pop(order_hash, None)
        bucket = (before_slot - 2 * ACTIVITY_SLOTS * self.terms.slot_s) // _BUCKET_S
        for buckets in self._activity.values():
            for old in [b for b in buckets if b < bucket]:
                buckets.discard(old)
