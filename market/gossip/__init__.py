"""market.gossip: sync of ledger entries between nodes.

`Gossip` runs push and anti-entropy for a `Ledger`; `Gossip.server.routes()` (or
`make_app()`) serves the sync routes; `PeerTable` holds the peers; `GossipConfig` the
periods and limits. The wire protocol is in docs/protocol.md.
"""

from .client import GossipClient, PeerRequestError
from .config import GossipConfig
from .peers import Peer, PeerTable
from .server import GossipServer, start_site
from .service import Gossip, SyncResult

__all__ = [
    "Gossip",
    "GossipClient",
    "GossipConfig",
    "GossipServer",
    "Peer",
    "PeerRequestError",
    "PeerTable",
    "SyncResult",
    "start_site",
]
