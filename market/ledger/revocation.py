"""Revocation: when a counted member stops counting (docs/protocol.md, "Revocation").

A `revoke(target)` entry signed by the target itself means it leaves; signed by another
member it is a vote to remove the target, which takes effect once the votes of more than
half of the other counted members are held. `market.ledger.admission.Admissions` takes
admits and revokes together in (timestamp, entry hash) order and asks `RevocationSweep`
about each revoke, so the revocation point of a key is a function of the entries held,
never of the order they arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum


class RevokeVerdict(StrEnum):
    """What a revoke entry held did."""

    LEFT = "left"  # its author revoked itself: it left at this entry's timestamp
    VOTED = "voted"  # a counted vote that did not (yet) make a quorum
    REMOVED = "removed"  # the vote that completed the quorum: the target is removed
    NOT_MEMBER = "not_member"  # its author did not count at the entry's timestamp
    TARGET_NOT_MEMBER = "target_not_member"  # the target did not count (or no longer did)
    REPEATED = "repeated"  # its author had already voted against this target


class Cause(StrEnum):
    """Why a key stopped counting."""

    LEFT = "left"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Revocation:
    """A key's revocation point (entry timestamp, ms) and its cause."""

    at_ms: int
    cause: Cause


def is_removal_quorum(votes: int, others: int) -> bool:
    """More than half of the counted members other than the target, in integers."""
    return others > 0 and 2 * votes > others


class RevocationSweep:
    """The revocation state while Admissions counts, one entry at a time in order."""

    def __init__(self, counts_at: Callable[[bytes, int], bool]) -> None:
        # counts_at(key, at_ms): whether `key` is a counted member at `at_ms`
        self._counts_at = counts_at
        self.revoked: dict[bytes, Revocation] = {}
        self._votes: dict[bytes, set[bytes]] = {}

    def judge(
        self, author: bytes, target: bytes, at_ms: int, members: MutableMapping[bytes, int]
    ) -> RevokeVerdict:
        """Apply one revoke entry; a key revoked here is taken out of `members`."""
        if not self._counts_at(author, at_ms):
            return RevokeVerdict.NOT_MEMBER
        if target not in members:
            return RevokeVerdict.TARGET_NOT_MEMBER
        if author == target:
            self._revoke(target, Revocation(at_ms, Cause.LEFT), members)
            return RevokeVerdict.LEFT
        voters = self._votes.setdefault(target, set())
        if author in voters:
            return RevokeVerdict.REPEATED
        voters.add(author)
        # Only the votes of keys that still count: a voter revoked since has no say.
        standing = sum(1 for voter in voters if voter in members)
        if not is_removal_quorum(standing, len(members) - 1):
            return RevokeVerdict.VOTED
        self._revoke(target, Revocation(at_ms, Cause.REMOVED), members)
        return RevokeVerdict.REMOVED

    def _revoke(
        self, key: bytes, revocation: Revocation, members: MutableMapping[bytes, int]
    ) -> None:
        self.revoked[key] = revocation
        del members[key]
        self._votes.pop(key, None)
