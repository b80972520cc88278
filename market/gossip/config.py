"""Gossip timing and size settings; every period is configurable so tests can run fast."""

from __future__ import annotations

from dataclasses import dataclass, field

# v2: the encrypted transport; a request under v1's prefix is refused (426) with a reason.
PATH_PREFIX = "/p2p/v2"
LEGACY_PATH_PREFIX = "/p2p/v1"


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """What the node's HTTP server grants anyone who connects (docs/protocol.md, "Limits").

    The defaults hold a Raspberry Pi-class node against a hostile LAN host while a
    neighbourhood of a few hundred households syncs through it.
    """

    max_connections: int = 256  # open at once (at most the fd limit minus 256)
    max_connections_per_address: int = 64
    header_timeout_s: float = 10.0  # a new connection's first request head, complete
    keepalive_timeout_s: float = 15.0  # idle between requests
    body_timeout_s: float = 20.0  # reading a request body, once its head passed
    lingering_s: float = 2.0  # unread body of a refused request discarded, then closed
    max_concurrent_requests: int = 32  # handled at once; the others wait
    busy_timeout_s: float = 5.0  # waiting for a turn, then 503 `busy`
    # Requests refused before authentication (and /redeem requests) spend the address's
    # budget; an address out of budget is refused from its headers alone.
    refusal_rate_per_s: float = 1.0
    refusal_burst: float = 20.0
    redeem_rate_per_s: float = 0.1  # per address
    redeem_burst: float = 10.0
    redeem_total_rate_per_s: float = 1.0  # all addresses together
    redeem_total_burst: float = 20.0
    max_tracked_addresses: int = 4096  # per-address tables; the overflow shares a bucket
    log_interval_s: float = 60.0  # one log line per refusal cause per interval


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """Settings of one node's gossip. Defaults suit a LAN of Raspberry Pi-class nodes."""

    fanout: int = 2
    own_rounds: int | None = None  # push rounds for own entries (None: until known)
    forward_rounds: int = 1  # push rounds for entries learnt from peers
    push_delay_s: float = 0.02  # gather entries appended together into one push
    pull_interval_s: float = 2.0
    pull_idle_max_s: float = 10.0  # anti-entropy slows down to this while nothing moves
    # Anti-entropy pushes what the peer lacks as well as pulling. Pull-only halves the
    # requests when every node syncs at once (a lockstep simulation).
    push_on_sync: bool = True
    pull_jitter: float = 0.25  # fraction of the interval, so nodes do not sync in lockstep
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    request_timeout_s: float = 10.0
    pull_max_entries: int = 500
    pull_max_bytes: int = 512 * 1024
    # Authors asked for in one pull (and held in one frontier message): far above any
    # neighbourhood's chains, far below what ties the store up (26,000 did, for 0.5 s).
    pull_max_wants: int = 4096
    max_pull_rounds: int = 64
    max_request_bytes: int = (1 << 20) + 4096
    max_push_queue: int = 10_000
    replay_window_s: float = 30.0
    max_nonces_per_peer: int = 4096
    rate_per_s: float = 20.0
    rate_burst: float = 40.0
    path_prefix: str = PATH_PREFIX
    limits: LimitsConfig = field(default_factory=LimitsConfig)
