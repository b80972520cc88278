"""Revocation: when a counted member stops counting (docs/protocol.md, "Revocation").

A `revoke(target)` entry signed by the target itself means it leaves; signed by another
member it is a vote to remove the target, which takes effect once the votes of more than
half of the other counted members are held; with a successor it is a vote to replace the
target's (lost or stolen) key by the successor's, by the same quorum; a `rotate(new key)`
revokes its author and lets the new key count in its place.
`market.ledger.admission.Admissions` takes admits, revokes and rotates together in
(timestamp, entry hash) order and asks `RevocationSweep` about each revoke and rotate,
so the revocation point of a key is a
function of the entries held, never of the order they arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .codec import verify
from .errors import InvalidBodyError
from .kinds import RotateBody

ROTATE_DOMAIN: Final = b"p2p-energy rotate v1"


def rotate_message(community_id: bytes, old_key: bytes) -> bytes:
    """What the new key signs in a rotate: it takes over `old_key`'s membership here."""
    return ROTATE_DOMAIN + community_id + old_key


def check_rotate(body: RotateBody, author: bytes, community_id: bytes) -> None:
    """Raise InvalidBodyError unless the new key proved it is held and is another key."""
    if body.new_key == author:
        raise InvalidBodyError("a key cannot rotate onto itself")
    if not verify(body.new_key, rotate_message(community_id, author), body.proof):
        raise InvalidBodyError("the new key did not sign the rotation")


class RevokeVerdict(StrEnum):
    """What a revoke entry held did."""

    LEFT = "left"  # its author revoked itself: it left at this entry's timestamp
    VOTED = "voted"  # a counted vote that did not (yet) make a quorum
    REMOVED = "removed"  # the vote that completed the quorum: the target is removed
    NOT_MEMBER = "not_member"  # its author did not count at the entry's timestamp
    TARGET_NOT_MEMBER = "target_not_member"  # the target did not count (or no longer did)
    REPEATED = "repeated"  # its author had already voted against this target
    ROTATED = "rotated"  # a rotate: its author's membership passed to the new key
    KEY_USED = "key_used"  # a rotate onto a key that counts or counted before
    REPLACED = "replaced"  # the vote that completed a replacement: the successor takes over
    SUCCESSOR_NOT_MEMBER = "successor_not_member"  # a replacement by a key that does not count


class Cause(StrEnum):
    """Why a key stopped counting."""

    LEFT = "left"
    REMOVED = "removed"
    ROTATED = "rotated"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class Revocation:
    """A key's revocation point (entry timestamp, ms) and its cause."""

    at_ms: int
    cause: Cause


def is_removal_quorum(votes: int, others: int) -> bool:
    """More than half of the counted members other than the target, in integers."""
    return others > 0 and 2 * votes > others


def _vote(voters: set[bytes], author: bytes, members: Mapping[bytes, int]) -> RevokeVerdict:
    """Count `author`'s vote among `voters`: REPEATED, VOTED, or REMOVED when the standing
    votes make the quorum (only keys that still count: a voter revoked since has no say)."""
    if author in voters:
        return RevokeVerdict.REPEATED
    voters.add(author)
    standing = sum(1 for voter in voters if voter in members)
    quorum = is_removal_quorum(standing, len(members) - 1)  # the target is not counted
    return RevokeVerdict.REMOVED if quorum else RevokeVerdict.VOTED


class RevocationSweep:
    """The revocation state while Admissions counts, one entry at a time in order."""

    def __init__(self, counts_at: Callable[[bytes, int], bool]) -> None:
        # counts_at(key, at_ms): whether `key` is a counted member at `at_ms`
        self._counts_at = counts_at
        self.revoked: dict[bytes, Revocation] = {}
        self._votes: dict[bytes, set[bytes]] = {}
        # replacement votes, by (target, successor): a vote counts for one successor only
        self._replacing: dict[tuple[bytes, bytes], set[bytes]] = {}

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
        tally = _vote(self._votes.setdefault(target, set()), author, members)
        if tally is not RevokeVerdict.REMOVED:
            return tally
        self._revoke(target, Revocation(at_ms, Cause.REMOVED), members)
        return RevokeVerdict.REMOVED

    def replace(
        self,
        author: bytes,
        target: bytes,
        successor: bytes,
        at_ms: int,
        members: MutableMapping[bytes, int],
    ) -> RevokeVerdict:
        """Apply one vote to replace `target`'s key by `successor` (a member already,
        admitted with an invite): once the votes of more than half of the members other
        than the target are held for the same successor, the target is revoked and the
        successor carries on the household's membership (see Admissions)."""
        # a key that is not lost hands itself on with a rotate, not a replacement
        if author == target or not self._counts_at(author, at_ms):
            return RevokeVerdict.NOT_MEMBER
        if target not in members or successor not in members:
            return (
                RevokeVerdict.TARGET_NOT_MEMBER
                if target not in members
                else RevokeVerdict.SUCCESSOR_NOT_MEMBER
            )
        tally = _vote(self._replacing.setdefault((target, successor), set()), author, members)
        if tally is not RevokeVerdict.REMOVED:
            return tally
        self._revoke(target, Revocation(at_ms, Cause.REPLACED), members)
        # the household's own votes go on under its new key
        for voted in self._votes.values():
            if target in voted:
                voted.add(successor)
        return RevokeVerdict.REPLACED

    def rotate(
        self,
        author: bytes,
        new_key: bytes,
        at_ms: int,
        members: MutableMapping[bytes, int],
        counted_before: Container[bytes],
    ) -> RevokeVerdict:
        """Apply one rotate entry: `author` is revoked, `new_key` counts from `at_ms`."""
        if not self._counts_at(author, at_ms):
            return RevokeVerdict.NOT_MEMBER
        if new_key in counted_before or new_key in self.revoked:
            return RevokeVerdict.KEY_USED
        against = self._votes.get(author, set())
        self._revoke(author, Revocation(at_ms, Cause.ROTATED), members)
        members[new_key] = at_ms
        # The votes go with the membership: a rotation neither escapes a removal under
        # way nor loses the household's own votes.
        if against:
            self._votes[new_key] = against
        for voters in self._votes.values():
            if author in voters:
                voters.add(new_key)
        return RevokeVerdict.ROTATED

    def _revoke(
        self, key: bytes, revocation: Revocation, members: MutableMapping[bytes, int]
    ) -> None:
        self.revoked[key] = revocation
        del members[key]
        self._votes.pop(key, None)
