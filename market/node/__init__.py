"""market.node: a household's market node (ledger + gossip + slot clock + clearing +
agents), and the invites that let a neighbour join its community. See docs/node.md.
"""

from .catchup import ChainState
from .clock import Clock, ManualClock, ScaledClock, SystemClock
from .config import NodeConfig
from .datadir import DataDir
from .errors import InviteError, NodeError, NodeSetupError, OrderRejectedError
from .events import (
    AgentSchedule,
    ChainStateChanged,
    EquivocationSeen,
    NodeEvent,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    OwnFill,
    PeerDown,
    PeerUp,
    SlotCleared,
    SlotDisputed,
    SurplusChanged,
)
from .finality import SlotState, Verdict
from .index import OrderStatus
from .invite import Invite, create_invite
from .node import Node
from .views import BookOrder, NodeStatus, PeerStatus, SlotOutcome, SlotSurplus

__all__ = [
    "AgentSchedule",
    "BookOrder",
    "ChainState",
    "ChainStateChanged",
    "Clock",
    "DataDir",
    "EquivocationSeen",
    "Invite",
    "InviteError",
    "ManualClock",
    "Node",
    "NodeConfig",
    "NodeError",
    "NodeEvent",
    "NodeSetupError",
    "NodeStatus",
    "OrderAccepted",
    "OrderCancelled",
    "OrderRejected",
    "OrderRejectedError",
    "OrderStatus",
    "OwnFill",
    "PeerDown",
    "PeerStatus",
    "PeerUp",
    "ScaledClock",
    "SlotCleared",
    "SlotDisputed",
    "SlotOutcome",
    "SlotState",
    "SlotSurplus",
    "SurplusChanged",
    "SystemClock",
    "Verdict",
    "create_invite",
]
