"""Allocation keys for the organiser (PMO) of a French collective self-consumption
operation (ACC): per step of 30 minutes and per consumer, the share of the producers'
injection that settlement allocated to that consumer (docs/settlement.md, "For the ACC
organiser (PMO)").

The PMO of an operation with a dynamic key sends Enedis, each month, one coefficient
per consumer and per step; the coefficients of a step share the producers' injection
and sum to at most 1. Settlement already computed that share: the energy a consumer was
allocated (`local_bought_wh`, capped by its meter) over the energy the producers
injected (`export_wh`). Coefficients are rounded down to a fixed number of digits, so a
step's coefficients never sum above 1.

Followed: Enogrid, "Les clés de répartition en autoconsommation collective" (the PMO
defines the key; static, default dynamic, simple dynamic, full dynamic),
https://enogrid.com/les-cles-de-repartition-en-autoconsommation-collective/ ;
Part-Énergie (30-minute intervals, dynamic coefficients sent to Enedis monthly),
https://part-energie.fr/?p=1155 ; HubWatt (15-minute steps), https://hubwatt.fr/?p=4621 ,
hence a step of 15 minutes on request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..localtime import PARIS, local_seconds
from .period import Period
from .records import SettledSlot, SettleState

ACC_STEP_S = 1800  # Enedis' "pas de 30 minutes"
ACC_DIGITS = 6


class AccStepError(ValueError):
    """The step cannot be built from the community's slots (not a multiple of them)."""


@dataclass(frozen=True, slots=True)
class AccKey:
    """A consumer's share of a step's injection: `allocated_wh` / `injection_wh`."""

    step: int
    consumer: str
    allocated_wh: int
    injection_wh: int

    def coefficient(self, digits: int = ACC_DIGITS) -> str:
        """The share as a decimal string with `digits` digits after the point, rounded
        down (0 when nothing was injected)."""
        return coefficient(self.allocated_wh, self.injection_wh, digits)


@dataclass(frozen=True, slots=True)
class SkippedStep:
    """A step of the period with no keys, and why: `disputed` (a slot of it has no
    quorum on its allocation yet), `incomplete` (some of its slots are not settled at
    this node), `missing` (none is)."""

    step: int
    reason: str


@dataclass(frozen=True, slots=True)
class AccKeys:
    """The keys of a period, by step then consumer id, and the steps left out."""

    keys: tuple[AccKey, ...]
    skipped: tuple[SkippedStep, ...]


def coefficient(allocated_wh: int, injection_wh: int, digits: int = ACC_DIGITS) -> str:
    """`allocated_wh / injection_wh` rounded down to `digits` decimals, as text."""
    scale = 10**digits
    scaled = 0 if injection_wh == 0 else allocated_wh * scale // injection_wh
    units, fraction = divmod(scaled, scale)
    return f"{units}.{fraction:0{digits}d}" if digits else str(units)


def step_of(slot: int, step_s: int = ACC_STEP_S, zone: str = PARIS) -> int:
    """Start (Unix s) of the local-time step containing `slot`."""
    return slot - local_seconds(slot, zone) % step_s


def acc_keys(
    slots: Iterable[SettledSlot],
    period: Period,
    *,
    slot_s: int,
    step_s: int = ACC_STEP_S,
    until: int | None = None,
) -> AccKeys:
    """The keys of every step of `period` that starts before `until` (the whole period
    when None) from the settled `slots` of `slot_s` seconds.

    A step gets keys only when all its slots are settled and none is disputed: keys from
    part of a step would share the whole step's injection by half of it. The consumers
    are the households that imported in a verified slot of the period; each gets a key
    in every step (0 when it was allocated nothing).
    """
    if step_s % slot_s:
        raise AccStepError(f"a {step_s} s step is not made of whole {slot_s} s slots")
    per_step = step_s // slot_s
    steps: dict[int, list[SettledSlot]] = {}
    for settled in slots:
        if period.holds(settled.slot):
            steps.setdefault(step_of(settled.slot, step_s, period.zone), []).append(settled)
    consumers = sorted(
        {
            row.household
            for held in steps.values()
            for settled in held
            if settled.verified
            for row in settled.rows
            if row.import_wh > 0
        }
    )
    end = period.end if until is None else min(period.end, until)
    keys: list[AccKey] = []
    skipped: list[SkippedStep] = []
    for step in range(step_of(period.start, step_s, period.zone), end, step_s):
        held = steps.get(step, [])
        if any(settled.state is SettleState.DISPUTED for settled in held):
            skipped.append(SkippedStep(step, "disputed"))
        elif len({settled.slot for settled in held}) < per_step:
            skipped.append(SkippedStep(step, "incomplete" if held else "missing"))
        else:
            keys.extend(_step_keys(step, held, consumers))
    return AccKeys(tuple(keys), tuple(skipped))


def _step_keys(step: int, held: list[SettledSlot], consumers: list[str]) -> list[AccKey]:
    allocated = dict.fromkeys(consumers, 0)
    injection = 0
    for settled in held:
        for row in settled.rows:
            injection += row.export_wh
            if row.household in allocated:
                allocated[row.household] += row.local_bought_wh
    # Settlement allocates no more than the sellers exported, so the shares sum to at
    # most the injection; rounding each down keeps their sum at most 1.
    return [AccKey(step, consumer, allocated[consumer], injection) for consumer in consumers]
