"""A household's market node: ledger + gossip + slot clock + clearing + agents.

The node owns no policy about hosts: Home Assistant, the headless CLI and the simulator
drive it through the same API (place / cancel, order book, events, status) and give it a
clock, an aiohttp session and optionally a zeroconf instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from ..agents import Observation
from ..agents.inputs import EMPTY_OBSERVATION
from ..gossip import Gossip, PeerTable, start_site
from ..gossip.guard import ConnectionGuard
from ..ledger import Ledger
from ..ledger.codec import Entry
from ..ledger.community import Community
from ..ledger.identity import Identity
from ..ledger.ledger import Origin
from ..settlement.store import SettlementStoreError
from ..supervise import supervise
from .addresses import advertised_host, peer_url
from .agent_api import AgentControls
from .agent_host import AgentHost, ObservationSource
from .catchup import START_WAIT_S, CatchUp
from .clock import Clock, SystemClock
from .config import NodeConfig
from .datadir import DataDir
from .errors import DataDirError, OrderRejectedError
from .events import EquivocationSeen, EventBus, Listener, SlotCleared
from .faults import NodeFaults
from .index import MarketIndex
from .invite import create_invite
from .membership_api import MembershipControls
from .metering import MeterInputs, ReadingRecorder
from .order_api import OrderControls
from .orders import OrderDesk
from .peering import (
    ClockSkew,
    NodeAnnouncementInfo,
    PeerWatch,
    peer_statuses,
    start_discovery,
    stop_discovery,
)
from .prices import PriceHistory
from .redeem import RedeemService, wall_clock_s
from .rotation import open_ledger
from .settlement_api import SettlementControls
from .settling import SettlementKeeper
from .slots import SlotKeeper
from .surplus import SurplusWatch
from .views import NODE_COUNTERS, NodeStatus, SlotOutcome

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

_PEER_CHECK_S = 1.0
# A failed turn of the slot clock is retried this much later (ms).
_FAULT_RETRY_MS = 1000


class Node(AgentControls, OrderControls, MembershipControls, MeterInputs, SettlementControls):
    """A running market node. Build with `await Node.open(config, ...)`."""

    def __init__(
        self,
        config: NodeConfig,
        ledger: Ledger,
        identity: Identity,
        *,
        clock: Clock,
        session: aiohttp.ClientSession,
        owns_session: bool,
        zeroconf: AsyncZeroconf | None,
    ) -> None:
        self.config = config
        self.data = DataDir(config.data_dir)
        self.ledger = ledger
        self.identity = identity
        self.community: Community = ledger.community
        self.terms = self.community.terms
        self.clock = clock
        self.session = session
        self._owns_session = owns_session
        self._zeroconf = zeroconf
        self.peers = PeerTable(config.gossip.backoff_base_s, config.gossip.backoff_max_s)
        self.gossip = Gossip(ledger, identity, session, self.peers, config.gossip)
        self.index = MarketIndex(
            self.terms, self.community.genesis_members, self.community.created_ms
        )
        self.stats = dict.fromkeys(NODE_COUNTERS, 0)
        self._agents = AgentHost(self.stats)
        self._observe: ObservationSource = no_observation
        self._events = EventBus()
        self._emit = self._events.emit
        self._entries = 0
        self._skew = ClockSkew()
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._discovery: list[Any] = []
        self._wake = asyncio.Event()
        self._running = False
        self.address: str | None = None
        self.port: int | None = None
        self.started_ms = 0
        self._next_agent_ms = 0
        # The instant the slot clock sleeps until (None while it works): lets a
        # simulation step many nodes in lockstep and know when all of them are done.
        self.sleeping_until: int | None = None
        self.faults = NodeFaults(self.stats)
        writes = self.faults.writes
        self._orders = OrderDesk(
            ledger, identity, self.index, clock, self.data, self.stats, self._emit, writes
        )
        self._slots = SlotKeeper(
            ledger,
            identity,
            self.index,
            self.stats,
            self._orders.own.source_of,
            self._on_decided,
            self._prune,
            writes,
        )
        self._surplus = SurplusWatch(self.index, self.terms, self._emit, config.surplus_step_wh)
        self._catchup = CatchUp(ledger, self.gossip, self._emit, config.catchup_timeout_s)
        self._readings = ReadingRecorder(ledger, self.terms, self.stats, self.data)
        self._prices = PriceHistory(
            self.terms, self.index, identity.public_key, self.data, self.stats
        )
        self._settlement = SettlementKeeper(
            ledger,
            identity,
            self.index,
            self.data.path,
            self.stats,
            self._slots.final_result,
            self._own_slot,
            self._on_settled,
            writes,
        )
        # One for the node's life: restarted, it still knows what it reported and saved
        self._peer_watch = PeerWatch(identity.node_id, self.peers, self._emit, self.data.save_peers)
        self.redeem = RedeemService(
            ledger,
            clock_s=wall_clock_s,
            path_prefix=config.gossip.path_prefix,
            counted=self.index.admissions,
            market_clock_ms=clock.now_ms,
            gate=self.gossip.server.gate,
        )
        self.guard = ConnectionGuard(config.gossip.limits)
        ledger.add_listener(self._on_entries)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        config: NodeConfig,
        *,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        zeroconf: AsyncZeroconf | None = None,
    ) -> Node:
        """Open the node of `config.data_dir` (which must hold a community). Raises
        NodeSetupError (DataDirError for a directory it cannot write)."""
        clock = clock or SystemClock()
        data = DataDir(config.data_dir)
        loop = asyncio.get_running_loop()
        identity, community = await loop.run_in_executor(None, data.for_node)
        ledger, identity = await open_ledger(
            data, community, identity, clock_ms=clock.now_ms, synchronous=config.synchronous
        )
        owns_session = session is None
        node = cls(
            config,
            ledger,
            identity,
            clock=clock,
            session=session or aiohttp.ClientSession(),
            owns_session=owns_session,
            zeroconf=zeroconf,
        )
        try:
            await node._load()
        except BaseException:
            await ledger.close()
            if owns_session:
                await node.session.close()
            raise
        return node

    async def _load(self) -> None:
        entries = await self.ledger.entries()
        self.index.add(entries)
        self._entries = len(entries)
        recorded = await asyncio.get_running_loop().run_in_executor(None, self.data.agent_orders)
        self._orders.load(entries, recorded)
        await self._readings.load()
        await self._prices.load()
        try:
            await self._settlement.open(self.clock.now_ms())
        except SettlementStoreError as err:
            raise DataDirError(str(err)) from err

    async def start(self) -> None:
        """Serve gossip, connect to peers, announce, and run the slot clock."""
        if self._running:
            return
        self._running = True
        app = web.Application(client_max_size=self.config.gossip.max_request_bytes)
        app.add_routes(self.gossip.server.routes())
        app.add_routes(self.redeem.routes())
        self._runner, self.port = await start_site(
            app, self.config.host, self.config.port, self.guard
        )
        host = self.config.advertise_host or advertised_host(self.config.host)
        self.address = f"{host}:{self.port}"
        await asyncio.get_running_loop().run_in_executor(None, self.data.save_address, self.address)
        remembered = await asyncio.get_running_loop().run_in_executor(None, self.data.peers)
        for address in (*self.config.peers, *remembered):
            self.add_peer(address)
        await self.gossip.start()
        alone = not self.index.members() - {self.identity.public_key}
        self._tasks.append(
            asyncio.create_task(self._catchup.run(alone, self._orders.withdraw_previous_run))
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._catchup.first_round.wait(), START_WAIT_S)
        if self._zeroconf is not None:
            me = (self.ledger.community_id, self.identity.public_key, host, self.port)
            announce = NodeAnnouncementInfo(*me)
            self._discovery = await start_discovery(self._zeroconf, announce, self.add_peer)
        now = self.clock.now_ms()
        self.started_ms = now
        self._slots.start(now)
        self._settlement.start(now)
        self._next_agent_ms = now
        # Supervised: a loop that raises is counted, logged and started again.
        faults = self.faults
        watch = partial(self._peer_watch.run, self._wake, _PEER_CHECK_S, faults.peers)
        self._tasks += [
            asyncio.create_task(supervise(self._run_clock, faults.clock), name="p2p-node-clock"),
            asyncio.create_task(supervise(watch, faults.peers), name="p2p-node-peers"),
        ]
        name = self.community.name
        _LOGGER.info("node %s of %r listening on %s", self.identity.node_id, name, self.address)

    async def stop(self) -> None:
        """Stop every task and socket, then close the ledger (nothing half-written)."""
        if not self._running:
            await self._close_resources()
            return
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._readings.stop()
        await self._prices.save()
        await stop_discovery(self._discovery)
        self._discovery = []
        await self.gossip.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._close_resources()
        _LOGGER.info("node %s stopped", self.identity.node_id)

    async def _close_resources(self) -> None:
        await self._settlement.close()
        await self.ledger.close()
        if self._owns_session and not self.session.closed:
            await self.session.close()

    # ------------------------------------------------------------------ host API

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Receive every event (called on the event loop); returns an unsubscriber."""
        return self._events.subscribe(listener)

    def add_peer(self, address: str, key: bytes | None = None) -> None:
        """Sync with the node at "host:port" (or a URL) from now on."""
        url = peer_url(address)
        if self.address is not None and url == peer_url(self.address):
            return
        if key is not None and key == self.identity.public_key:
            return
        is_new = url not in {peer.url for peer in self.peers.all()}
        self.peers.add(url, key)
        if is_new and self._running:
            self._wake.set()
            self._catchup.peer_added()

    def set_observation_source(self, source: ObservationSource) -> None:
        """Where the agents read the household's readings and forecasts from."""
        self._observe = source

    def outcome(self, slot: int) -> SlotOutcome | None:
        """The slot's outcome once decided at this node."""
        return self._slots.outcome(slot)

    def outcomes(self) -> list[SlotOutcome]:
        """Decided slots still remembered, oldest first."""
        return self._slots.outcomes()

    def status(self) -> NodeStatus:
        """Peers, ledger size, last sync and clock skew."""
        peers = peer_statuses(self.peers)
        synced = [peer.last_ok_s_ago for peer in peers if peer.last_ok_s_ago is not None]
        counters = {
            **self.stats,
            **self._catchup.stats,
            **self.gossip.counters(),
            **self.guard.counters(),
            **{f"redeem_{name}": n for name, n in self.redeem.counters().items()},
        }
        refusing = self.gossip.client.clocks.refusing()
        return NodeStatus(
            node_id=self.identity.public_key.hex(),
            community_id=self.ledger.community_id.hex(),
            community_name=self.community.name,
            address=self.address,
            members=len(self.index.members()),
            peers=peers,
            ledger_entries=self._entries,
            last_sync_s_ago=min(synced) if synced else None,
            clock_skew_ms=self._skew.median_ms(list(refusing.values())),
            is_member=self.index.is_member(self.identity.public_key),
            counters=counters,
            chain=str(self._catchup.state),
            chain_detail=self._catchup.detail,
            fault=self.faults.current(
                self._catchup.faults,
                self.gossip.faults,
                self._readings.faults,
                self._settlement.faults,
                *self._agents.fault_logs(),
            ),
            clock_refusals=len(refusing),
        )

    def create_invite(self, *, ttl_s: int = 86_400) -> str:
        """A single-use invite code for a neighbour, valid `ttl_s` seconds."""
        if self.address is None:
            raise OrderRejectedError("not_running", "start the node before inviting")
        me, community = self.identity, self.community
        return create_invite(
            me, community, self.address, now_s=wall_clock_s(), ttl_s=ttl_s
        ).encode()

    # ------------------------------------------------------------------ ledger feed

    def _on_entries(self, entries: Sequence[Entry], origin: Origin | None) -> None:
        self._entries += len(entries)
        if origin is None:
            self.faults.writes.recovered()  # an own append was stored: the disk takes writes
        else:
            self._skew.observe(entries, self.clock.now_ms())
        update = self.index.add(entries)
        for author, seq in update.equivocators:
            self._emit(EquivocationSeen(author.hex(), seq))
        if self._running:
            now = self.clock.now_ms()
            self._slots.on_entries(update.order_slots | update.seal_slots, now)
            self._settlement.on_entries(update.settle_slots, now)
            self._surplus.check(now // 1000, update.order_slots)

    def _on_decided(self, outcome: SlotOutcome, own_fills: dict[bytes, int]) -> None:
        by_agent = self._orders.own.fills_by_agent(own_fills)
        self._readings.note_steered(outcome.slot, self._steered_wh(own_fills))
        price = None if outcome.result is None else outcome.result.price
        if isinstance(outcome.event, SlotCleared):  # a dispute says nothing of prices
            self._prices.learn(outcome.slot, outcome.event.price, outcome.event.volume_wh)
        late = isinstance(outcome.event, SlotCleared) and outcome.event.late
        self._agents.deliver(outcome.slot, by_agent, price, late=late)
        self._emit(outcome.event)
        self._wake.set()

    def _prune(self, before_slot: int) -> None:
        self.index.prune(before_slot)
        self._orders.own.prune(before_slot)

    # ------------------------------------------------------------------ slot clock

    async def _run_clock(self) -> None:
        faults = self.faults.clock
        while self._running:
            now = self.clock.now_ms()
            try:
                await self._slots.seal_due(now, may_sign=self._catchup.ready)
                self._slots.judge_due(now)
                await self._settlement.settle_due(now, may_sign=self._catchup.ready)
                if now >= self._next_agent_ms:
                    self._next_agent_ms = now + self.config.agent_interval_s * 1000
                    await self._run_agents(now)
                self._surplus.check(now // 1000)
                settle_at = self._settlement.next_due_ms(now)
                wake_at = min(self._slots.next_due_ms(), settle_at, self._next_agent_ms)
                wake_at = min(wake_at, self._surplus.next_check_ms(now // 1000))
            except Exception as err:  # the next turn may succeed: the market must go on
                faults.failed(err)
                wake_at = now + _FAULT_RETRY_MS
            else:
                faults.recovered()
            self.sleeping_until = wake_at
            try:
                await self.clock.sleep_until(wake_at)
            finally:
                self.sleeping_until = None

    @property
    def entries_held(self) -> int:
        """Entries in the ledger (kept in memory: cheap to read)."""
        return self._entries

    def is_idle(self) -> bool:
        """Whether the slot clock has done everything due at the current time."""
        return self.sleeping_until is not None and self.sleeping_until > self.clock.now_ms()


def no_observation(_now_s: int) -> Observation:
    """The observation of a household that reports nothing (agents then offer nothing)."""
    return EMPTY_OBSERVATION
