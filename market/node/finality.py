"""The finality rule: a slot's result stands when more than two thirds of the electorate
sealed it before the slot started (see docs/node.md for why this is safe)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class HeldSeal:
    """One member's seal of a slot: of its clearing (`order_root` is the order set's
    root) or of its settlement (the readings' root)."""

    author: bytes
    seq: int
    timestamp_ms: int
    order_root: bytes
    result_hash: bytes


class SlotState(StrEnum):
    """Where a slot stands."""

    PENDING = "pending"
    FINAL = "final"
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The finality rule applied to the seals held for one slot."""

    state: SlotState
    order_root: bytes | None
    result_hash: bytes | None
    agreeing: int
    seals: int
    electorate: int
    reason: str = ""


def is_quorum(agreeing: int, electorate: int) -> bool:
    """More than two thirds, in integers."""
    return electorate > 0 and 3 * agreeing > 2 * electorate


def judge(
    seals: Mapping[bytes, HeldSeal],
    electorate: frozenset[bytes],
    *,
    deadline_ms: int,
    now_ms: int,
) -> Verdict:
    """Final if one (order root, result) pair has a quorum among the electorate's seals
    timestamped before `deadline_ms`; disputed once no pair can reach it any more (at the
    latest when `now_ms` passes the deadline); pending otherwise."""
    counted = [
        seal for key, seal in seals.items() if key in electorate and seal.timestamp_ms < deadline_ms
    ]
    groups = Counter((seal.order_root, seal.result_hash) for seal in counted)
    size = len(electorate)
    root: bytes | None = None
    result: bytes | None = None
    agreeing = 0
    if groups:
        (root, result), agreeing = min(groups.items(), key=lambda item: (-item[1], item[0]))
    if is_quorum(agreeing, size):
        return Verdict(SlotState.FINAL, root, result, agreeing, len(counted), size)
    missing = size - len(counted)
    if size == 0:
        # nobody was a member before the activity window ended: a community's first slot
        return Verdict(SlotState.DISPUTED, None, None, 0, len(counted), 0, "no_electorate")
    if now_ms >= deadline_ms:
        reason = "no_quorum" if len(groups) <= 1 else "diverging_seals"
        return Verdict(SlotState.DISPUTED, None, None, agreeing, len(counted), size, reason)
    if not is_quorum(agreeing + missing, size):
        return Verdict(
            SlotState.DISPUTED, None, None, agreeing, len(counted), size, "diverging_seals"
        )
    return Verdict(SlotState.PENDING, None, None, agreeing, len(counted), size)
