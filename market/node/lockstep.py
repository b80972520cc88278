"""Stepping nodes that share a `ManualClock` in lockstep (simulations and tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from .clock import ManualClock
from .node import Node

CONVERGE_LIMIT_S = 60.0


async def converge(nodes: Sequence[Node], limit_s: float = CONVERGE_LIMIT_S) -> None:
    """Wait until every node has acted at the current time and all ledgers agree.

    Raises TimeoutError after `limit_s`: a step that long means a node is stuck.
    """
    deadline = time.monotonic() + limit_s
    while True:
        # entry counts are free to read; frontiers are compared once they agree
        counts = {node.entries_held for node in nodes}
        if len(counts) == 1 and all(node.is_idle() for node in nodes):
            frontiers = [await node.ledger.frontier() for node in nodes]
            if all(frontier == frontiers[0] for frontier in frontiers):
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the nodes did not converge")
        await asyncio.sleep(0.01)


async def step_to(
    clock: ManualClock, nodes: Sequence[Node], t_ms: int, limit_s: float = CONVERGE_LIMIT_S
) -> None:
    """Let the nodes sync, move the clock to `t_ms`, and let every node act and sync
    (gossip on a LAN takes milliseconds; the seal margin gives it a minute)."""
    await converge(nodes, limit_s)
    clock.advance_to(t_ms)
    await converge(nodes, limit_s)
