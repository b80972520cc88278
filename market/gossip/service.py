"""A node's gossip: push new entries to a few random peers at once, and run periodic
anti-entropy (frontier exchange, then pull what we lack and push what they lack)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..ledger.codec import Entry
from ..ledger.identity import Identity
from ..ledger.ledger import Ledger, Origin
from ..supervise import FaultLog, supervise, wait_event
from .client import GossipClient, PeerRequestError
from .config import GossipConfig
from .peers import Peer, PeerTable
from .server import GossipServer
from .wire import missing_from

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class SyncResult:
    """What one anti-entropy exchange with a peer moved."""

    pulled: int = 0
    pushed: int = 0
    reached: bool = False  # the peer answered and what it sent was stored


class Gossip:
    """Replicates a ledger with the peers of a PeerTable.

    `server` holds the routes to serve; `start()` begins pushing and anti-entropy.
    """

    def __init__(
        self,
        ledger: Ledger,
        identity: Identity,
        session: aiohttp.ClientSession,
        peers: PeerTable,
        config: GossipConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or GossipConfig()
        self.ledger = ledger
        self.peers = peers
        self.server = GossipServer(ledger, identity, self.config)
        limits = ledger.limits
        self.client = GossipClient(
            session,
            identity,
            ledger.community_id,
            self.config,
            max_reply_bytes=max(limits.max_batch_bytes, self.config.max_request_bytes),
            is_member=ledger.is_member,
        )
        self._rng = rng or random.Random()  # noqa: S311 - peer choice, not secrets
        self._queue: deque[tuple[bytes, Origin | None]] = deque(maxlen=self.config.max_push_queue)
        self._wakeup = asyncio.Event()
        self._news = asyncio.Event()
        self._own_news = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._push_locks: dict[str, asyncio.Lock] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._running = False
        self.stats: dict[str, int] = {
            "pushes": 0,
            "push_failures": 0,
            "syncs": 0,
            "sync_failures": 0,
            "push_dropped": 0,
            "task_errors": 0,
        }
        self.faults = FaultLog("gossip", self.stats, "task_errors")

    def counters(self) -> dict[str, int]:
        """Push/sync statistics, refused requests (`refused_<reason>`) and ledger counts."""
        counts = dict(self.stats)
        counts.update(self.server.counters)
        counts.update(self.client.stats)
        counts.update(self.ledger.counters())
        return counts

    async def start(self) -> None:
        """Begin pushing new entries and the anti-entropy loop."""
        if self._running:
            return
        self._running = True
        self._unsubscribe.append(self.ledger.add_listener(self._on_entries))
        # Supervised: a loop that raised starts again (counted, logged once per cause).
        self._spawn(supervise(self._push_loop, self.faults))
        self._spawn(supervise(self._anti_entropy_loop, self.faults))

    async def stop(self) -> None:
        """Stop every background task (in-flight requests are cancelled)."""
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        err = None if task.cancelled() else task.exception()
        if isinstance(err, Exception):
            # A store failure (disk full, ...) must not pass silently, nor kill the node.
            self.faults.failed(err)

    def _on_entries(self, entries: Sequence[Entry], origin: Origin | None) -> None:
        queue = self._queue
        for entry in entries:
            if len(queue) == queue.maxlen:
                self.stats["push_dropped"] += 1  # anti-entropy will carry it instead
            queue.append((entry.raw, origin))
        self._wakeup.set()
        # Own entries: spread them now. Entries from peers: the community is busy,
        # so pull again soon (at the base interval) rather than at the idle pace.
        self._own_news = self._own_news or origin is None
        self._news.set()

    # ----------------------------------------------------------------- push

    async def _push_loop(self) -> None:
        while self._running:
            await self._wakeup.wait()
            await asyncio.sleep(self.config.push_delay_s)
            self._wakeup.clear()
            pending = list(self._queue)
            self._queue.clear()
            if not pending:
                continue
            own = [(raw, origin) for raw, origin in pending if origin is None]
            forwarded = [(raw, origin) for raw, origin in pending if origin is not None]
            if own:
                self._spawn(self._spread(own, self.config.own_rounds))
            if forwarded:
                self._spawn(self._spread(forwarded, self.config.forward_rounds))

    async def _spread(
        self, frames: Sequence[tuple[bytes, Origin | None]], rounds: int | None
    ) -> None:
        """Rumour mongering with feedback: push to `fanout` random peers, and go on with
        fresh peers while a round still taught someone something. Blind fanout-2 pushing
        leaves about e^-2 of the nodes waiting for anti-entropy; this leaves almost none.

        The author of entries goes on until its peers know them (`own_rounds` None by
        default); nodes that forward them stop after `forward_rounds` rounds, which keeps
        the pushes per entry near a few per node instead of a few per link. A peer is
        sent the frames except those it sent us, in their order, and is no candidate
        when it sent them all.
        """
        everything = self._chunk([raw for raw, _origin in frames])
        origins = {origin for _raw, origin in frames if origin is not None}
        tried: set[str] = set()
        while self._running and (rounds is None or rounds > 0):
            if rounds is not None:
                rounds -= 1
            candidates = [
                (peer, batches)
                for peer in self.peers.sample(len(self.peers))
                if peer.url not in tried and self.client.may_push(peer)
                for batches in [self._batches_for(peer, frames, origins, everything)]
                if batches
            ]
            targets = candidates[: self.config.fanout]
            if not targets:
                return
            tried.update(peer.url for peer, _batches in targets)
            useful = await asyncio.gather(
                *(self._push_to(peer, batches) for peer, batches in targets)
            )
            if not any(useful):
                return

    def _batches_for(
        self,
        peer: Peer,
        frames: Sequence[tuple[bytes, Origin | None]],
        origins: set[Origin],
        everything: list[bytes],
    ) -> list[bytes]:
        """The batches to push to peer: every frame but those that came from it."""
        if not any(origin.is_peer(peer.key, peer.url) for origin in origins):
            return everything
        return self._chunk(
            [
                raw
                for raw, origin in frames
                if origin is None or not origin.is_peer(peer.key, peer.url)
            ]
        )

    def _chunk(self, frames: list[bytes]) -> list[bytes]:
        limits = self.ledger.limits
        batches: list[bytes] = []
        current: list[bytes] = []
        size = 0
        for frame in frames:
            if current and (
                len(current) >= limits.max_batch_entries
                or size + len(frame) > limits.max_batch_bytes
            ):
                batches.append(b"".join(current))
                current, size = [], 0
            current.append(frame)
            size += len(frame)
        if current:
            batches.append(b"".join(current))
        return batches

    async def _push_to(self, peer: Peer, batches: list[bytes]) -> bool:
        """Push batches to peer; True when the peer learnt something from them."""
        behind = False
        accepted = 0
        # One push at a time per peer, so a peer receives our entries in our order.
        lock = self._push_locks.setdefault(peer.url, asyncio.Lock())
        try:
            async with lock:
                for batch in batches:
                    reply = await self.client.push(peer, batch)
                    behind = behind or reply.behind
                    accepted += reply.accepted
            self.peers.mark_ok(peer)
            self.stats["pushes"] += 1
        except PeerRequestError as err:
            _LOGGER.debug("push to %s failed: %s", peer.url, err)
            self.peers.mark_failed(peer)
            self.stats["push_failures"] += 1
            return False
        if behind:
            # The peer lacks what our entries build on: repair it now, not at the next round.
            await self.sync_with(peer)
        return accepted > 0 or behind

    # ----------------------------------------------------------------- anti-entropy

    async def _anti_entropy_loop(self) -> None:
        """Sync with one random peer per round. Rounds come every `pull_interval_s` while
        entries move, slow down (doubling, up to `pull_idle_max_s`) while nothing does,
        come at once when this node writes something and within an interval when a peer
        sends something: quick to converge after activity, cheap when quiet."""
        config = self.config
        interval = config.pull_interval_s
        while self._running:
            wait = interval * self._rng.uniform(1 - config.pull_jitter, 1 + config.pull_jitter)
            await wait_event(self._news, wait)
            had_news = self._news.is_set()
            if had_news and not self._own_news:
                # heard from a peer: pull at the base pace, never in a burst
                base = config.pull_interval_s
                await asyncio.sleep(base * self._rng.uniform(1 - config.pull_jitter, 1))
            self._news.clear()
            self._own_news = False
            targets = self.peers.sample(1)
            if not targets:
                continue
            try:
                result = await self.sync_with(targets[0])
            except Exception as err:  # keep the loop alive: the next round may well succeed
                self.faults.failed(err)  # counted as task_errors, logged once per cause
                continue
            if result.reached:
                self.faults.recovered()
            if had_news or result.pulled or result.pushed:
                interval = config.pull_interval_s
            else:
                interval = min(interval * 2, max(config.pull_idle_max_s, config.pull_interval_s))

    async def sync_with(self, peer: Peer) -> SyncResult:
        """Exchange frontiers with peer, pull what we lack, push what it lacks."""
        result = SyncResult()
        try:
            mine = await self.ledger.frontier()
            theirs = await self.client.exchange_frontier(peer, mine)
            result.pulled = await self._pull_from(peer, mine, theirs)
            # Entries go only to a key this node counts as a member (client.py).
            if self.config.push_on_sync and self.client.may_push(peer):
                result.pushed = await self._push_missing(peer, theirs)
        except PeerRequestError as err:
            _LOGGER.debug("sync with %s failed: %s", peer.url, err)
            self.peers.mark_failed(peer)
            self.stats["sync_failures"] += 1
            return result
        self.peers.mark_ok(peer)
        self.stats["syncs"] += 1
        result.reached = True
        return result

    async def _pull_from(
        self,
        peer: Peer,
        mine: dict[bytes, tuple[int, bytes]],
        theirs: dict[bytes, tuple[int, bytes]],
    ) -> int:
        pulled = 0
        for _round in range(self.config.max_pull_rounds):
            wants = missing_from(mine, theirs)
            if not wants:
                break
            # a peer takes at most pull_max_wants authors per pull: the rest next round
            cut = len(wants) > self.config.pull_max_wants
            data, more = await self.client.pull(peer, wants[: self.config.pull_max_wants])
            more = more or cut
            if not data:
                break
            # The origin names the peer by key and address, so that a peer known by its
            # address only is never taken for us (whose entries are re-pushed as our own).
            ingested = await self.ledger.ingest(data, origin=Origin(peer.key, peer.url))
            pulled += len(ingested.accepted)
            if not ingested.accepted:
                break  # nothing usable (e.g. the peer serves a fork we refuse): stop here
            mine = await self.ledger.frontier()
            if not more and not ingested.behind:
                break
        return pulled

    async def _push_missing(self, peer: Peer, theirs: dict[bytes, tuple[int, bytes]]) -> int:
        limits = self.ledger.limits
        pushed = 0
        for _round in range(self.config.max_pull_rounds):
            mine = await self.ledger.frontier()
            wants = missing_from(theirs, mine)
            if not wants:
                break
            frames, more = await self.ledger.read_ranges(
                wants, limits.max_batch_entries, limits.max_batch_bytes
            )
            if not frames:
                break
            reply = await self.client.push(peer, b"".join(frames))
            pushed += reply.accepted
            if not more or not reply.accepted:
                break
            theirs = await self.client.exchange_frontier(peer, mine)
        return pushed
