"""What a node tells its host (Home Assistant, the CLI, the simulator)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..agents.ev_plan import EvSchedule
from ..model import Side
from ..settlement.slot import HouseholdSettlement

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OwnFill:
    """Energy this household traded in a slot, for one of its orders."""

    order_id: str
    side: Side
    energy_wh: int
    price: int
    source: str  # "api" or the id of the agent that placed the order

    @property
    def amount(self) -> int:
        """Money exchanged, in Wh x ticks (divide by 10^7 for currency units)."""
        return self.energy_wh * self.price


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """One of this node's orders is signed and on the ledger."""

    order_id: str
    slot: int
    side: Side
    energy_wh: int
    price: int
    source: str


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """An order the host or an agent asked for was refused; `reason` is a stable key."""

    slot: int
    reason: str
    detail: str
    source: str


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """One of this node's orders was withdrawn before its gate closure."""

    order_id: str
    slot: int
    source: str


@dataclass(frozen=True, slots=True)
class SlotCleared:
    """A slot is final: more than two thirds of the electorate sealed this result.

    `late` is set when the node learned it after the slot started (it was offline or
    cut off); the household then did not act on it in time.
    """

    slot: int
    price: int | None
    volume_wh: int
    mechanism: str
    fills: tuple[OwnFill, ...]
    late: bool = False

    @property
    def bought_wh(self) -> int:
        """Energy this household bought in the slot."""
        return sum(fill.energy_wh for fill in self.fills if fill.side is Side.BUY)

    @property
    def sold_wh(self) -> int:
        """Energy this household sold in the slot."""
        return sum(fill.energy_wh for fill in self.fills if fill.side is Side.SELL)


@dataclass(frozen=True, slots=True)
class SlotDisputed:
    """No result reached the quorum before the slot started: nobody trades in it."""

    slot: int
    reason: str
    seals: int
    electorate: int


@dataclass(frozen=True, slots=True)
class SlotSettled:
    """A slot's settlement was recorded or changed (docs/settlement.md): `state` is a
    market.settlement.SettleState value; `own` the household's slot at its own tariff
    (None when it neither traded nor was read)."""

    slot: int
    state: str
    own: HouseholdSettlement | None
    households: int


@dataclass(frozen=True, slots=True)
class SurplusChanged:
    """The community's expected unsold energy in the next open slot moved by the node's
    surplus step or more since it was last told (market.node.surplus): what the asks of
    `slot` would leave unmatched if the book cleared now, and the price it would clear
    at (None without a trade, or under a pairwise mechanism)."""

    slot: int
    unmatched_sell_wh: int
    total_sell_wh: int
    total_buy_wh: int
    price: int | None


@dataclass(frozen=True, slots=True)
class PeerUp:
    """A peer answered after being unknown or unreachable."""

    url: str
    node_id: str | None


@dataclass(frozen=True, slots=True)
class PeerDown:
    """A peer stopped answering."""

    url: str
    node_id: str | None


@dataclass(frozen=True, slots=True)
class EquivocationSeen:
    """A member signed two different entries with one sequence number; its orders signed
    within the conflict's time span are void (docs/node.md, "The order set")."""

    node_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class AgentSchedule:
    """An agent's plan changed (the EV session's slots to charge in)."""

    agent_id: str
    schedule: EvSchedule


@dataclass(frozen=True, slots=True)
class ChainStateChanged:
    """Whether this node may sign, as it learns its own chain from its peers at start:
    `state` is a `market.node.catchup.ChainState` value, `detail` says why for people."""

    state: str
    detail: str


NodeEvent = (
    OrderAccepted
    | OrderRejected
    | OrderCancelled
    | SlotCleared
    | SlotDisputed
    | SlotSettled
    | SurplusChanged
    | PeerUp
    | PeerDown
    | EquivocationSeen
    | AgentSchedule
    | ChainStateChanged
)

Listener = Callable[[NodeEvent], None]


class EventBus:
    """The host's listeners; each event reaches each of them, in subscription order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns the call that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: NodeEvent) -> None:
        """Hand `event` to every listener."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a host's faulty listener must not stop the market
                _LOGGER.exception("node event listener failed")
