"""Green certificates: one per MWh of solar energy that settlement verified as
delivered to neighbours (docs/settlement.md, "Green certificates").

SolarCoin's idea (one unit per MWh produced), without a token or a market: a
certificate is an entry anyone can recompute from the settled slots it names. Only
allocated export counts (`local_sold_wh`: what the producer's meter exported *and* a
neighbour's meter imported, capped by both), and only in FINAL slots, where a quorum
sealed the allocation; NO_TRADES slots allocate nothing and DISPUTED ones are not agreed.

Deterministic: walking a producer's FINAL slots in slot order, every node that holds the
same settled slots derives the same certificates, serials, slot ranges and proofs.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .records import SettledSlot, SettleState

CERTIFICATE_WH = 1_000_000
_PROOF_DOMAIN = b"p2p-energy certificate v1"


@dataclass(frozen=True, slots=True)
class Certificate:
    """One MWh delivered by `producer` over the FINAL slots `first_slot`..`last_slot`.

    `serial` counts the producer's certificates from 1. `proof` is `proof_of` the
    result hashes of the contributing slots (those where the producer sold locally), in
    slot order; a slot whose energy straddles two certificates is in both proofs.
    """

    producer: str
    serial: int
    first_slot: int
    last_slot: int
    proof: bytes
    wh: int = CERTIFICATE_WH

    def to_json_obj(self) -> dict[str, Any]:
        """The certificate as a JSON object (proof in hex)."""
        return {
            "producer": self.producer,
            "serial": self.serial,
            "first_slot": self.first_slot,
            "last_slot": self.last_slot,
            "wh": self.wh,
            "proof": self.proof.hex(),
        }


def proof_of(result_hashes: Iterable[bytes]) -> bytes:
    """SHA-256 of the domain string and the contributing slots' result hashes, in order:
    what a verifier recomputes from the settle seals the certificate's slots carry."""
    digest = hashlib.sha256(_PROOF_DOMAIN)
    for result_hash in result_hashes:
        digest.update(result_hash)
    return digest.digest()


def delivered_wh(settled: SettledSlot, producer: str) -> int:
    """What `producer` verifiably delivered to neighbours in a slot (0 unless FINAL)."""
    if settled.state is not SettleState.FINAL:
        return 0
    row = settled.row(producer)
    return 0 if row is None else row.local_sold_wh


@dataclass(frozen=True, slots=True)
class Deliveries:
    """Every producer's verified deliveries, slot by slot: what a statement needs to count
    the certificates of its period (those completed between its start and its end)."""

    slots: Mapping[str, tuple[int, ...]]
    cumulative_wh: Mapping[str, tuple[int, ...]]

    @classmethod
    def of(cls, slots: Iterable[SettledSlot]) -> Deliveries:
        """The deliveries of the FINAL slots among `slots`."""
        found: dict[str, list[tuple[int, int]]] = {}
        for settled in slots:
            if settled.state is SettleState.FINAL:
                for row in settled.rows:
                    if row.local_sold_wh > 0:
                        found.setdefault(row.household, []).append(
                            (settled.slot, row.local_sold_wh)
                        )
        starts: dict[str, tuple[int, ...]] = {}
        sums: dict[str, tuple[int, ...]] = {}
        for producer, deliveries in found.items():
            deliveries.sort()
            starts[producer] = tuple(slot for slot, _ in deliveries)
            sums[producer] = tuple(itertools.accumulate(wh for _, wh in deliveries))
        return cls(starts, sums)

    def before(self, producer: str, t: int) -> int:
        """What `producer` verifiably delivered in the slots starting before `t`."""
        count = bisect.bisect_left(self.slots.get(producer, ()), t)
        return self.cumulative_wh[producer][count - 1] if count else 0


@dataclass(slots=True)
class _Progress:
    serial: int = 0
    needed: int = CERTIFICATE_WH
    first_slot: int = 0
    hashes: list[bytes] | None = None


def issue(slots: Iterable[SettledSlot]) -> dict[str, tuple[Certificate, ...]]:
    """Every producer's certificates from the settled slots (any order; one per slot).

    Raises ValueError when a slot appears twice: two versions of one slot would make
    the result depend on which came first.
    """
    ordered = sorted(slots, key=lambda s: s.slot)
    for earlier, later in itertools.pairwise(ordered):
        if earlier.slot == later.slot:
            raise ValueError(f"slot {later.slot} appears twice")
    progress: dict[str, _Progress] = {}
    issued: dict[str, list[Certificate]] = {}
    for settled in ordered:
        if settled.state is not SettleState.FINAL:
            continue
        for row in sorted(settled.rows, key=lambda r: r.household):
            if row.local_sold_wh > 0:
                state = progress.setdefault(row.household, _Progress())
                issued.setdefault(row.household, []).extend(
                    _credit(state, row.household, settled, row.local_sold_wh)
                )
    return {producer: tuple(certificates) for producer, certificates in issued.items()}


def _credit(state: _Progress, producer: str, settled: SettledSlot, wh: int) -> list[Certificate]:
    out: list[Certificate] = []
    while wh > 0:
        # Each pass of the loop credits one certificate, so the slot's hash joins each
        # certificate its energy goes to once.
        if state.hashes is None:
            state.hashes, state.first_slot = [], settled.slot
        state.hashes.append(settled.result_hash)
        taken = min(wh, state.needed)
        wh -= taken
        state.needed -= taken
        if state.needed == 0:
            state.serial += 1
            out.append(
                Certificate(
                    producer=producer,
                    serial=state.serial,
                    first_slot=state.first_slot,
                    last_slot=settled.slot,
                    proof=proof_of(state.hashes),
                )
            )
            state.hashes, state.needed = None, CERTIFICATE_WH
    return out


def certificates_of(slots: Iterable[SettledSlot], producer: str) -> tuple[Certificate, ...]:
    """`producer`'s certificates, oldest first."""
    return issue(slots).get(producer, ())
