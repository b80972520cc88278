"""The node's API for the household's membership (docs/node.md, "Leaving and removal",
"Rotating the key"), a part of `Node`.

A mixin of `Node` only, like market.node.agent_api: it reads the node's parts below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .departure import held_by_a_peer
from .rotation import rotate_key

if TYPE_CHECKING:
    from ..gossip import Gossip, PeerTable
    from ..ledger import Ledger
    from ..ledger.identity import Identity
    from .catchup import CatchUp
    from .datadir import DataDir
    from .orders import OrderDesk


class MembershipControls:
    """Leaving, voting to remove or replace a member, and rotating the node's key."""

    # The node's parts this mixin uses (set by Node.__init__).
    _catchup: CatchUp
    _orders: OrderDesk
    gossip: Gossip
    peers: PeerTable
    ledger: Ledger
    identity: Identity
    data: DataDir

    async def leave(self, *, confirm_timeout_s: float = 0.0) -> bool:
        """Leave the community: sign a revoke of this node's own key (docs/node.md,
        "Leaving and removal"); with `confirm_timeout_s`, wait that long at most for a
        peer to hold it and return whether one does. Raises OrderRejectedError
        (catching_up, not_member, revoked, ledger)."""
        self._catchup.check()
        await self._orders.leave()
        if confirm_timeout_s <= 0:
            return False
        me = self.identity.public_key
        return await held_by_a_peer(self.gossip, self.peers, self.ledger, me, confirm_timeout_s)

    async def vote_to_remove(self, member: bytes) -> None:
        """Vote to remove the household of key `member` (docs/node.md, "Leaving and
        removal"); it is removed once more than half of the other members voted.
        Raises OrderRejectedError (invalid_member, and as `leave`)."""
        self._catchup.check()
        await self._orders.vote_to_remove(member)

    async def vote_to_replace(self, member: bytes, successor: bytes) -> None:
        """Vote to replace the lost key `member` by the household's new one,
        `successor` (joined with an invite); see docs/node.md, "Leaving and removal"."""
        self._catchup.check()
        await self._orders.vote_to_replace(member, successor)

    async def rotate_key(self) -> str:
        """Hand this household's membership on to a new key (docs/node.md, "Rotating
        the key"); returns the new key (hex). The node signs nothing more with the old
        key: reopen it to trade with the new one. Raises OrderRejectedError as `leave`."""
        self._catchup.check()
        self._orders.check_standing()
        return (await rotate_key(self.ledger, self.identity, self.data)).public_key.hex()
