"""Leaving for good: whether a neighbour holds this node's chain up to its head.

A host that deletes a node's data right after it left (Home Assistant removing its
config entry) must first know that the revoke reached someone: an entry nobody else
holds is lost with the data, and the neighbours would go on counting the household.
"""

from __future__ import annotations

import asyncio
from typing import Final

from ..gossip import Gossip, PeerTable
from ..gossip.client import PeerRequestError
from ..ledger import Ledger

_RETRY_S: Final = 0.2


async def held_by_a_peer(
    gossip: Gossip, peers: PeerTable, ledger: Ledger, key: bytes, timeout_s: float
) -> bool:
    """Ask the known peers until one holds `key`'s chain up to our head (True), or
    `timeout_s` has passed (False). A frontier exchange also lets the peer pull."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        mine = await ledger.frontier()
        head = mine.get(key)
        for peer in peers.all():
            try:
                theirs = await gossip.client.exchange_frontier(peer, mine)
            except PeerRequestError:
                continue
            # Only a member's word counts: a key learnt by address is not proven one.
            member = peer.key is not None and ledger.is_member(peer.key)
            if member and head is not None and theirs.get(key) == head:
                return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_RETRY_S)
