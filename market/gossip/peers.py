"""The peer table: where to reach other nodes, and exponential backoff for dead ones."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Peer:
    """A known peer. `key` is learned from its requests or given by discovery."""

    url: str
    key: bytes | None = None
    failures: int = 0
    next_attempt: float = 0.0
    last_ok: float | None = None

    @property
    def alive(self) -> bool:
        """False after a failed request, until one succeeds again."""
        return self.failures == 0


class PeerTable:
    """Peers by base URL (e.g. http://192.0.2.7:8765)."""

    def __init__(
        self,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._peers: dict[str, Peer] = {}
        self._base = backoff_base_s
        self._max = backoff_max_s
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - peer choice, not secrets

    def add(self, url: str, key: bytes | None = None) -> Peer:
        """Add a peer (or update its key); returns it."""
        url = url.rstrip("/")
        peer = self._peers.get(url)
        if peer is None:
            peer = self._peers[url] = Peer(url, key)
        elif key is not None:
            peer.key = key
        return peer

    def remove(self, url: str) -> None:
        """Forget a peer."""
        self._peers.pop(url.rstrip("/"), None)

    def __len__(self) -> int:
        return len(self._peers)

    def all(self) -> list[Peer]:
        """Every known peer."""
        return list(self._peers.values())

    def due(self) -> list[Peer]:
        """Peers not in backoff."""
        now = self._clock()
        return [peer for peer in self._peers.values() if peer.next_attempt <= now]

    def sample(self, count: int) -> list[Peer]:
        """Up to count random peers not in backoff."""
        candidates = self.due()
        return self._rng.sample(candidates, min(count, len(candidates)))

    def mark_ok(self, peer: Peer) -> None:
        """A request to peer succeeded."""
        peer.failures = 0
        peer.next_attempt = 0.0
        peer.last_ok = self._clock()

    def mark_failed(self, peer: Peer) -> None:
        """A request to peer failed: back off exponentially (with jitter)."""
        peer.failures += 1
        delay = min(self._max, self._base * 2 ** (peer.failures - 1))
        peer.next_attempt = self._clock() + delay * self._rng.uniform(0.5, 1.0)
