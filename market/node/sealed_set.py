"""Finding the order set a quorum sealed, when this node holds a different one
(docs/node.md, "When a node judges").

A node cut off before a slot's gate may hold orders the quorum never saw (its own,
placed meanwhile) or cancels it never saw, so the set it would clear is not the one
whose root the quorum sealed, and it cannot check their result. The difference can
only come from entries the sealers did not have: those of authors who did not seal
that root. So the set is searched among the held ones: every live order of the
agreeing sealers, and each order of the other authors in or out. A set is accepted
only if its root is the quorum's, and its clearing only if it hashes to the quorum's
result hash: the search can fail, never find a wrong result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from .finality import HeldSeal
from .index import HeldOrder, OrderStatus, order_root

# 2**12 candidate roots at most: a few tens of milliseconds on a Raspberry Pi.
MAX_UNSURE: Final = 12
# Decided by the order's own fields (its timestamp, its expiry), the same at every node.
_SETTLED = frozenset({OrderStatus.LATE, OrderStatus.EXPIRED})


def sealed_order_set(
    seals: Mapping[bytes, HeldSeal],
    book: Sequence[tuple[HeldOrder, OrderStatus]],
    root: bytes,
) -> list[HeldOrder] | None:
    """The orders of a slot's `book` (market.node.index.MarketIndex.book) whose root is
    `root`, given the slot's counted `seals`; None when none is found (more than
    MAX_UNSURE orders of non-sealing authors, or orders this node does not hold)."""
    agreeing = {key for key, seal in seals.items() if seal.order_root == root}
    base: list[HeldOrder] = []
    unsure: list[HeldOrder] = []
    for order, status in book:
        if order.author in agreeing:
            if status is OrderStatus.LIVE:
                base.append(order)
        elif status not in _SETTLED:
            unsure.append(order)
    if len(unsure) > MAX_UNSURE:
        return None
    for mask in range(1 << len(unsure)):
        chosen = base + [order for bit, order in enumerate(unsure) if mask >> bit & 1]
        if order_root(order.hash for order in chosen) == root:
            return chosen
    return None
