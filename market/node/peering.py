"""How a node finds its neighbours and tells its host which of them answer.

Zeroconf announces the node and browses for its community (on a shared responder the
host gives, or not at all); `PeerWatch` turns the gossip peer table's state into one
`PeerUp` / `PeerDown` event and one log line per change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from ..gossip import PeerTable
from .events import NodeEvent, PeerDown, PeerUp

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)


class NodeAnnouncementInfo(NamedTuple):
    """What a node announces of itself on the LAN."""

    community_id: bytes
    node_id: bytes
    host: str
    port: int
    name: str


async def start_discovery(
    zeroconf: AsyncZeroconf,
    info: NodeAnnouncementInfo,
    add_peer: Callable[[str, bytes | None], None],
) -> list[Any]:
    """Announce the node and browse for its community; returns the started adapters
    (each has an async `stop`). An adapter that fails to start is logged and skipped."""
    from ..gossip.discovery import (  # noqa: PLC0415 - zeroconf only when asked for
        PROTOCOL_VERSION,
        NodeAnnouncement,
        ZeroconfAnnouncer,
        ZeroconfBrowser,
    )

    announcement = NodeAnnouncement(
        community_id=info.community_id,
        node_id=info.node_id,
        host=info.host,
        port=info.port,
        protocol=PROTOCOL_VERSION,
        name=info.name,
    )
    announcer = ZeroconfAnnouncer(zeroconf, announcement)
    browser = ZeroconfBrowser(
        zeroconf,
        info.community_id,
        info.node_id,
        lambda found: add_peer(f"{found.host}:{found.port}", found.node_id),
        None,
    )
    started: list[Any] = []
    for adapter in (announcer, browser):
        try:
            await adapter.start()
        except Exception:  # the LAN may refuse multicast; static peers still work
            _LOGGER.exception("zeroconf %s failed to start", type(adapter).__name__)
        else:
            started.append(adapter)
    return started


class PeerWatch:
    """Reports each peer's change between reachable and lost, once per change."""

    def __init__(
        self,
        node_id: str,
        peers: PeerTable,
        emit: Callable[[NodeEvent], None],
        save_peers: Callable[[list[str]], None],
    ) -> None:
        self._node_id = node_id
        self._peers = peers
        self._emit = emit
        self._save_peers = save_peers
        self._alive: dict[str, bool] = {}

    async def check(self) -> None:
        """Emit the changes since the last check; remember the peers once one answers."""
        for peer in self._peers.all():
            alive = peer.alive and peer.last_ok is not None
            before = self._alive.get(peer.url)
            if before is None and not alive and peer.failures == 0:
                continue  # not tried yet
            if alive == before:
                continue
            self._alive[peer.url] = alive
            key = None if peer.key is None else peer.key.hex()
            # Once per change, as the event: gossip retries a lost peer quietly.
            if alive:
                _LOGGER.info("node %s: peer %s is reachable", self._node_id, peer.url)
            else:
                _LOGGER.info(
                    "node %s: peer %s is lost; retrying in the background",
                    self._node_id,
                    peer.url,
                )
            self._emit(PeerUp(peer.url, key) if alive else PeerDown(peer.url, key))
            if alive:
                urls = [p.url for p in self._peers.all()]
                await asyncio.get_running_loop().run_in_executor(None, self._save_peers, urls)
