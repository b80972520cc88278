"""How a node is set up: where it keeps its data, where it listens, whom it knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..gossip import GossipConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Where a node keeps its data and how it is reached.

    `port` 0 picks a free port. `advertise_host` is the address put in invites and
    announcements (default: `host`, or this machine's LAN address when `host` is a
    wildcard). `peers` are "host:port" or URLs of other nodes.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    advertise_host: str | None = None
    peers: tuple[str, ...] = ()
    gossip: GossipConfig = field(default_factory=GossipConfig)
    agent_interval_s: int = 60
    # SQLite synchronous mode of own appends: FULL survives a power cut (see
    # LedgerStore); a simulation, which has no power to lose, uses NORMAL.
    synchronous: str = "FULL"
    # How long a node that knows peers waits at start for one to confirm its own chain
    # before it signs anyway (None: until one answers; docs/node.md, "Restoring a backup").
    catchup_timeout_s: float | None = None
    # The change of the next open slot's expected unsold energy (Wh) that is told as a
    # SurplusChanged event (market.node.surplus): smaller moves are not events.
    surplus_step_wh: int = 100
