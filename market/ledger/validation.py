"""The ingest rules: each entry of a batch against the chain state, and the body rules that
depend on the community (the per-kind schemas live in kinds.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from .admission import check_admit
from .codec import ZERO_HASH, Entry
from .community import Community
from .equivocation import EquivocationProof
from .errors import InvalidBodyError, OffTermsError, RejectReason
from .kinds import (
    ACCEPTED_KINDS,
    SIMPLE_DECODERS,
    Kind,
    ReadingBody,
    RotateBody,
    SealBody,
    SettleBody,
    check_order_body,
    granted_key,
)
from .membership import Membership
from .revocation import check_rotate

if TYPE_CHECKING:
    from ..terms import Refusal
    from .store import LedgerStore

_LOGGER = logging.getLogger(__name__)

# Refusals that a later entry of the same batch can lift (a gap it fills, an admit).
_RETRYABLE = frozenset({RejectReason.SEQ, RejectReason.NOT_MEMBER})


@dataclass(slots=True)
class IngestResult:
    """What one ingest call did."""

    accepted: list[Entry] = field(default_factory=list)
    duplicates: int = 0
    rejected: Counter[RejectReason] = field(default_factory=Counter)
    equivocations: list[EquivocationProof] = field(default_factory=list)
    # Some entries were refused only because earlier ones are missing here (a chain gap or
    # an author whose admit has not arrived): the sender holds what we lack.
    behind: bool = False


class BatchCheck:
    """One ingest batch checked against the store's chain state.

    What passes is applied to that state in memory (heads, members, equivocations) as it
    goes, so that later entries of the batch are checked against it; the store commits
    `in_batch` and `new_proofs` afterwards, or reloads its state if the commit fails.
    """

    def __init__(self, store: LedgerStore, now: int, result: IngestResult) -> None:
        self.store = store
        self.now = now
        self.result = result
        self.in_batch: dict[tuple[bytes, int], Entry] = {}
        # (proof, detected here): proofs this node found itself are also appended as its own.
        self.new_proofs: list[tuple[EquivocationProof, bool]] = []
        self.refused: Counter[RejectReason] = Counter()

    def check_all(self, entries: list[Entry]) -> None:
        """Check every entry; retry the ones a later entry may unblock while that helps."""
        pending = entries
        while pending:
            retry: list[tuple[Entry, RejectReason]] = []
            for entry in pending:
                outcome = self._check(entry)
                if outcome is None:
                    continue
                if outcome in _RETRYABLE:
                    retry.append((entry, outcome))
                else:
                    self._refuse(outcome)
            if len(retry) == len(pending):
                for _entry, reason in retry:
                    self._refuse(reason)
                self.result.behind = True
                return
            pending = [entry for entry, _reason in retry]

    def _refuse(self, reason: RejectReason) -> None:
        self.result.rejected[reason] += 1
        self.refused[reason] += 1

    def _check(  # noqa: PLR0911, PLR0912 - one return per validation rule reads best
        self, entry: Entry
    ) -> RejectReason | None:
        """Validate one entry against the chain state; on success, apply it in memory."""
        store = self.store
        if entry.community_id != store.community_id:
            return RejectReason.COMMUNITY
        if entry.kind not in ACCEPTED_KINDS:
            return RejectReason.UNKNOWN_KIND
        if entry.timestamp_ms > self.now + store.max_future_ms:
            return RejectReason.FUTURE_TIMESTAMP
        author = entry.author
        seq = entry.seq
        head = store.heads.get(author)
        head_seq = 0 if head is None else head[0]
        if seq < 1:
            return RejectReason.SEQ
        if seq <= head_seq:
            return self._check_known_seq(entry)
        if seq > head_seq + 1:
            return RejectReason.SEQ
        if entry.prev_hash != (ZERO_HASH if head is None else head[1]):
            return RejectReason.PREV_HASH
        if head is not None and entry.timestamp_ms < head[2]:
            return RejectReason.TIMESTAMP_REGRESS
        if not store.membership.is_member(author):
            return RejectReason.NOT_MEMBER
        if hashlib.sha256(entry.body).digest() != entry.body_hash:
            return RejectReason.BODY_HASH
        try:
            crypto_sign_open(entry.signature + entry.header, author)
        except (BadSignatureError, ValueError, TypeError):
            return RejectReason.SIGNATURE
        try:
            check_body(
                entry.kind,
                entry.body,
                author,
                store.community,
                store.membership,
                entry.timestamp_ms,
            )
        except OffTermsError:
            return RejectReason.OFF_TERMS
        except InvalidBodyError:
            return RejectReason.BODY_SCHEMA
        if entry.kind == Kind.ADMIT:
            refusal = check_admit(
                entry.body, entry.timestamp_ms, store.community_id, store.membership.is_member
            )
            if refusal is not None:
                return refusal
        store.heads[author] = (seq, entry.hash, entry.timestamp_ms)
        self.in_batch[(author, seq)] = entry
        granted = granted_key(entry.kind, entry.body)
        if granted is not None:
            store.membership.admit(granted)
        elif entry.kind == Kind.EQUIVOCATION:
            proof = EquivocationProof.decode(entry.body)
            key = (proof.author, proof.seq)
            if key not in store.equivocating:
                store.equivocating.add(key)
                self.new_proofs.append((proof, False))
                self.result.equivocations.append(proof)
        self.result.accepted.append(entry)
        return None

    def _check_known_seq(  # noqa: PLR0911 - one return per validation rule
        self, entry: Entry
    ) -> RejectReason | None:
        """An entry at a seq we hold: a duplicate, or the second half of an equivocation."""
        store = self.store
        key = (entry.author, entry.seq)
        known = self.in_batch.get(key)
        if known is None:
            # Duplicates are the common case under gossip: settle them from the chain
            # head or the stored hash, and decode the stored entry only for a conflict.
            head = store.heads.get(entry.author)
            if head is not None and head[0] == entry.seq and head[1] == entry.hash:
                self.result.duplicates += 1
                return None
            stored = store.stored_hash(*key)
            if stored is None:  # pragma: no cover - heads and table agree by construction
                return RejectReason.SEQ
            if stored == entry.hash:
                self.result.duplicates += 1
                return None
            known = store.stored_entry(*key)
        if known.hash == entry.hash:
            self.result.duplicates += 1
            return None
        if not store.membership.is_member(entry.author):
            return RejectReason.NOT_MEMBER
        if hashlib.sha256(entry.body).digest() != entry.body_hash:
            return RejectReason.BODY_HASH
        if not entry.verify_signature():
            return RejectReason.SIGNATURE
        if key in store.equivocating:
            self.result.duplicates += 1
            return None
        proof = EquivocationProof.from_entries(known, entry)
        store.equivocating.add(key)
        self.new_proofs.append((proof, True))
        self.result.equivocations.append(proof)
        _LOGGER.warning("author %s signed two entries with seq %d", entry.author.hex(), entry.seq)
        return None


def check_body(
    kind: int,
    body: bytes,
    author: bytes,
    community: Community,
    membership: Membership,
    timestamp_ms: int,
) -> None:
    """Raise InvalidBodyError unless body is valid for kind in this community, signed at
    `timestamp_ms`; OffTermsError (one) when it is well formed but breaks the terms."""
    terms = community.terms
    if kind == Kind.ORDER:  # most entries are orders: check them without decoding
        slot, _side, energy_wh, price, expires_s = check_order_body(body)
        _within(terms.order_refusal(slot, energy_wh, price, expires_s, timestamp_ms))
        return
    decoder = SIMPLE_DECODERS.get(kind)
    if decoder is not None:
        decoded = decoder.decode(body)
        if isinstance(decoded, SealBody):
            _within(terms.seal_refusal(decoded.slot, timestamp_ms))
        elif isinstance(decoded, ReadingBody):
            _within(terms.reading_refusal(decoded.slot, timestamp_ms))
        elif isinstance(decoded, SettleBody):
            _within(terms.settle_refusal(decoded.slot, timestamp_ms))
        elif isinstance(decoded, RotateBody):
            check_rotate(decoded, author, community.community_id)
        return
    if kind == Kind.GENESIS:
        if body != community.to_bytes():
            raise InvalidBodyError("genesis body is not this community's descriptor")
        if not membership.is_genesis_member(author):
            raise InvalidBodyError(f"genesis written by a non-genesis member {author.hex()}")
        return
    if kind == Kind.EQUIVOCATION:
        proof = EquivocationProof.decode(body)
        proof.check(community.community_id)
        if not membership.is_member(proof.author):
            raise InvalidBodyError(f"equivocation proof against a non-member {proof.author.hex()}")
        return
    raise InvalidBodyError(f"no schema for kind {kind}")


def _within(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise OffTermsError(refusal.reason, refusal.detail)
