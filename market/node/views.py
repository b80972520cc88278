"""What a node shows its host: order books, slot outcomes, peers and status."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import ClearingResult, Side
from .events import SlotCleared, SlotDisputed
from .finality import SlotState, Verdict
from .index import OrderStatus


@dataclass(frozen=True, slots=True)
class BookOrder:
    """An order of a slot's book as a host shows it."""

    order_id: str
    node_id: str
    own: bool
    side: Side
    energy_wh: int
    price: int
    status: OrderStatus
    placed_ms: int
    slot: int
    # who placed it ("api" or an agent's id) when it is this node's, else None
    source: str | None


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    """What became of a slot at this node."""

    slot: int
    state: SlotState
    verdict: Verdict
    result: ClearingResult | None
    event: SlotCleared | SlotDisputed


@dataclass(frozen=True, slots=True)
class SlotSurplus:
    """A slot whose gate is open, as its live book would clear now (market.auction's
    `indicate`): the asks' energy nobody would buy, and the price (None without a trade,
    or under a pairwise mechanism). An indication: the book changes until the gate."""

    slot: int
    unmatched_sell_wh: int
    total_sell_wh: int
    total_buy_wh: int
    price: int | None


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """One peer as the node sees it."""

    url: str
    node_id: str | None
    online: bool
    last_ok_s_ago: float | None


# The node's own counters in its status (gossip and ledger add theirs).
NODE_COUNTERS = (
    "seals",
    "seals_skipped",
    "orders_placed",
    "orders_rejected",
    "slots_final",
    "slots_disputed",
    "append_failures",
    "clock_faults",
    "readings_signed",
    "readings_dropped",
    "reading_failures",
    "reading_gaps_silent",
    "reading_gaps_reset",
    "reading_gaps_jump",
    "steered_save_failures",
    "price_save_failures",
    "settle_seals",
    "settle_seals_skipped",
    "settlements_final",
    "settlements_disputed",
    "settlement_store_failures",
    "peer_faults",
    "agent_faults",
    "observation_faults",
)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """The node at a glance (HA's diagnostic sensors, `market node` logs)."""

    node_id: str
    community_id: str
    community_name: str
    address: str | None
    members: int
    peers: tuple[PeerStatus, ...]
    ledger_entries: int
    last_sync_s_ago: float | None
    clock_skew_ms: int | None
    is_member: bool
    counters: dict[str, int]
    # market.node.catchup.ChainState: "ready", or why the node signs nothing (or unconfirmed)
    chain: str = "ready"
    chain_detail: str = ""
    # What fails now (a loop that keeps failing, the disk refusing writes), each as
    # "<what>: <error>" joined by "; "; None while everything works (docs/node.md, "Faults")
    fault: str | None = None
    # Peers whose last answer refused this node's requests for their timestamps: its
    # clock is off by more than the transport's 30 s (clock_skew_ms then says how far).
    clock_refusals: int = 0

    @property
    def peers_online(self) -> int:
        """Peers that answered their last request."""
        return sum(peer.online for peer in self.peers)
