"""The readings and settlement seals a node holds, by slot (docs/settlement.md,
"Agreement").

The same rules at every node: a member's reading of a slot is the first its chain
signed for that slot (by seq), and counts when it was signed before the slot's reading
closure by a key that was a member then; a settlement seal likewise is the first of
its author's chain for the slot, and counts unless its key was revoked when it signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ledger.admission import Admissions
from ..ledger.codec import Entry
from ..ledger.kinds import ReadingBody, SettleBody
from ..settlement.public import MeterReading
from ..terms import CommunityTerms
from .finality import HeldSeal


@dataclass(frozen=True, slots=True)
class HeldReading:
    """A reading entry as the node holds it."""

    hash: bytes
    author: bytes
    seq: int
    timestamp_ms: int
    reading: MeterReading


@dataclass(slots=True)
class _Held:
    readings: dict[bytes, HeldReading] = field(default_factory=dict)
    seals: dict[bytes, HeldSeal] = field(default_factory=dict)


class SettlementIndex:
    """Readings and settle seals by slot."""

    def __init__(self, terms: CommunityTerms, admissions: Admissions) -> None:
        self.terms = terms
        self.admissions = admissions
        self._slots: dict[int, _Held] = {}

    def add_reading(self, entry: Entry) -> int:
        """Index a reading entry; returns its slot."""
        body = ReadingBody.decode(entry.body)
        readings = self._held(body.slot).readings
        held = readings.get(entry.author)
        if held is None or entry.seq < held.seq:
            reading = MeterReading(body.import_wh, body.export_wh, body.estimated)
            readings[entry.author] = HeldReading(
                entry.hash, entry.author, entry.seq, entry.timestamp_ms, reading
            )
        return body.slot

    def add_seal(self, entry: Entry) -> int:
        """Index a settle entry; returns its slot."""
        body = SettleBody.decode(entry.body)
        seals = self._held(body.slot).seals
        held = seals.get(entry.author)
        if held is None or entry.seq < held.seq:
            seals[entry.author] = HeldSeal(
                entry.author, entry.seq, entry.timestamp_ms, body.readings_root, body.result_hash
            )
        return body.slot

    def _held(self, slot: int) -> _Held:
        held = self._slots.get(slot)
        if held is None:
            held = self._slots[slot] = _Held()
        return held

    def _counts(self, key: bytes, at_ms: int) -> bool:
        revocation = self.admissions.revocation(key)
        if revocation is not None:
            return at_ms < revocation.at_ms
        return self.admissions.is_member(key)

    def readings(self, slot: int) -> dict[bytes, HeldReading]:
        """The counted reading of each member for `slot`: signed before the reading
        closure by a key that was a member then."""
        held = self._slots.get(slot)
        if held is None:
            return {}
        closure_ms = self.terms.reading_closure(slot) * 1000
        return {
            key: reading
            for key, reading in held.readings.items()
            if reading.timestamp_ms < closure_ms and self._counts(key, reading.timestamp_ms)
        }

    def reading_of(self, slot: int, key: bytes) -> HeldReading | None:
        """`key`'s own reading of `slot`, counted or not (a late one included)."""
        held = self._slots.get(slot)
        return None if held is None else held.readings.get(key)

    def seals(self, slot: int) -> dict[bytes, HeldSeal]:
        """The counted settle seal of each member for `slot`."""
        held = self._slots.get(slot)
        if held is None:
            return {}
        return {
            key: seal for key, seal in held.seals.items() if self._counts(key, seal.timestamp_ms)
        }

    def prune(self, before_slot: int) -> None:
        """Forget slots before `before_slot` (settled, and stored)."""
        for slot in [slot for slot in self._slots if slot < before_slot]:
            del self._slots[slot]
