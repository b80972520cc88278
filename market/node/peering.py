"""How a node finds its neighbours and tells its host which of them answer.

Zeroconf announces the node and browses for its community (on a shared responder the
host gives, or not at all); `PeerWatch` turns the gossip peer table's state into one
`PeerUp` / `PeerDown` event and one log line per change; `peer_statuses` and `ClockSkew`
are what the node's status says of its peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..gossip import PeerTable
from ..ledger.codec import Entry
from ..supervise import FaultLog, wait_event
from .events import NodeEvent, PeerDown, PeerUp
from .views import PeerStatus

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)


class NodeAnnouncementInfo(NamedTuple):
    """What a node announces of itself on the LAN (no name: anyone there hears it)."""

    community_id: bytes
    node_id: bytes
    host: str
    port: int


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


async def stop_discovery(adapters: Sequence[Any]) -> None:
    """Withdraw the announcements and stop browsing, the last started first."""
    for adapter in reversed(adapters):
        with contextlib.suppress(Exception):  # the responder may be closing with the host
            await adapter.stop()


class PeerWatch:
    """Reports each peer's change between reachable and lost, once per change, and
    remembers the peers (DIR/peers.json) once one answers."""

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
        # A peer answered since the peers were last saved: saved at the next check
        # that can (a failed save raises, and the supervised watch retries it).
        self._unsaved = False

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
            self._unsaved = self._unsaved or alive
        if self._unsaved:
            urls = [p.url for p in self._peers.all()]
            await asyncio.get_running_loop().run_in_executor(None, self._save_peers, urls)
            self._unsaved = False

    async def run(self, wake: asyncio.Event, period_s: float, faults: FaultLog) -> None:
        """Check every `period_s`, or at once when `wake` is set (a new peer); tell
        `faults` each time a check worked (a failing one raises: run is supervised)."""
        while True:
            await self.check()
            faults.recovered()
            await wait_event(wake, period_s)
            wake.clear()


def peer_statuses(peers: PeerTable) -> tuple[PeerStatus, ...]:
    """Each peer: whether it answers and how long ago it last did."""
    now = time.monotonic()
    return tuple(
        PeerStatus(
            peer.url,
            None if peer.key is None else peer.key.hex(),
            peer.alive and peer.last_ok is not None,
            None if peer.last_ok is None else now - peer.last_ok,
        )
        for peer in peers.all()
    )


class ClockSkew:
    """How far the peers' clocks are from ours: the median offset of their fresh entries.

    Only entries stamped within `fresh_ms` of our clock count: an old entry relayed late
    says nothing about its author's clock.
    """

    def __init__(self, samples: int = 32, fresh_ms: int = 120_000) -> None:
        self._offsets: deque[int] = deque(maxlen=samples)
        self._fresh_ms = fresh_ms

    def observe(self, entries: Sequence[Entry], now_ms: int) -> None:
        """Take the offsets of a peer's entries received at `now_ms`."""
        for entry in entries:
            if abs(entry.timestamp_ms - now_ms) < self._fresh_ms:
                self._offsets.append(entry.timestamp_ms - now_ms)

    def median_ms(self, refusals: Collection[int] = ()) -> int | None:
        """The median offset (ms, positive when the peers are ahead), None before any.

        `refusals` are the offsets of the peers that refuse this node's requests for
        their timestamps (market.gossip.clocks): such a node receives no entries, so
        while any peer refuses it, they are what it knows."""
        if refusals:
            return int(statistics.median(refusals))
        return int(statistics.median(self._offsets)) if self._offsets else None
