"""What the peers' answers say of this node's clock.

Every authenticated reply carries the server's clock (inside the box); a refusal for a
stale timestamp carries it in a header. A node whose clock is off by more than the
replay window gets only refusals and no entries, so these are what can tell its host
to fix NTP (docs/protocol.md, "Clock skew").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class PeerClock:
    """One peer's clock as its last answer told it."""

    offset_ms: int  # the peer's clock minus ours (positive: the peer is ahead)
    refused: bool  # its last answer refused our timestamp (`auth_stale`)
    authenticated: bool  # the sample came from a reply box (not a plaintext refusal)


def offset_of(server_ms: int, sent_ms: int, received_ms: int) -> int:
    """The peer's clock minus ours, taking its answer to stamp the request's midpoint."""
    return server_ms - (sent_ms + received_ms) // 2


class PeerClocks:
    """The latest clock sample of each peer, by base URL."""

    def __init__(self, max_peers: int = 1024) -> None:
        self._peers: dict[str, PeerClock] = {}
        self._max = max_peers

    def answered(self, url: str, offset_ms: int) -> None:
        """An authenticated reply: the peer accepted our timestamp."""
        before = self._peers.get(url)
        if before is not None and before.refused:
            _LOGGER.info("peer %s accepts this node's clock again", url)
        self._store(url, PeerClock(offset_ms, refused=False, authenticated=True))

    def refused(self, url: str, offset_ms: int) -> None:
        """A refusal of our timestamp as stale, the peer's clock `offset_ms` from ours.

        Plaintext, so unauthenticated: it only informs (status, one log line per change),
        it never moves this node's clock."""
        before = self._peers.get(url)
        if before is None or not before.refused:
            _LOGGER.warning(
                "peer %s refuses this node's requests: its clock is %+.1f s from this "
                "node's, more than the transport allows; check that NTP runs here",
                url,
                offset_ms / 1000,
            )
        self._store(url, PeerClock(offset_ms, refused=True, authenticated=False))

    def _store(self, url: str, clock: PeerClock) -> None:
        self._peers.pop(url, None)
        if len(self._peers) >= self._max:
            self._peers.pop(next(iter(self._peers)))  # the oldest sample goes
        self._peers[url] = clock

    def get(self, url: str) -> PeerClock | None:
        """The peer's latest sample."""
        return self._peers.get(url)

    def refusing(self) -> dict[str, int]:
        """Peers whose last answer refused our timestamp, with their offsets."""
        return {url: clock.offset_ms for url, clock in self._peers.items() if clock.refused}
