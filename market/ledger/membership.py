"""Who may write: the genesis members of the descriptor plus keys admitted since."""

from __future__ import annotations

from .community import Community


class Membership:
    """Current member set. Only grows in protocol v1 (revoke is reserved)."""

    __slots__ = ("_admitted", "_genesis")

    def __init__(self, community: Community) -> None:
        self._genesis = frozenset(community.genesis_members)
        self._admitted: set[bytes] = set()

    def is_member(self, key: bytes) -> bool:
        """True for a genesis member or an admitted key."""
        return key in self._genesis or key in self._admitted

    def is_genesis_member(self, key: bytes) -> bool:
        """True for a key listed in the community descriptor."""
        return key in self._genesis

    def admit(self, key: bytes) -> None:
        """Record a key admitted by a valid `admit` entry."""
        self._admitted.add(key)

    def members(self) -> frozenset[bytes]:
        """Snapshot of all member keys."""
        return self._genesis | frozenset(self._admitted)
