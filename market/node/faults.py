"""The fault logs of a node's own duties (docs/node.md, "Faults").

Each counts its failures in the node's counters, logs each cause once per interval, and
knows whether its duty fails now; the node's status joins those that do into its
`fault`, which Home Assistant shows as a repair issue until the duty works again.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from ..supervise import FaultLog, current_fault


class NodeFaults:
    """One `FaultLog` per duty of the node itself (gossip, catching up and each agent
    keep their own)."""

    def __init__(self, stats: MutableMapping[str, int]) -> None:
        """Count in `stats`, the node's counters."""
        # own appends that SQLite refused: a full or failing disk
        self.writes = FaultLog("writing the ledger", stats, "append_failures")
        self.clock = FaultLog("the slot clock", stats, "clock_faults")
        self.peers = FaultLog("the peer watch", stats, "peer_faults")
        self.observing = FaultLog("reading the household", stats, "observation_faults")

    def current(self, *others: FaultLog) -> str | None:
        """What fails now among these duties and `others`, None when nothing does."""
        return current_fault((self.writes, self.clock, self.peers, self.observing, *others))
