"""A household's market node: ledger + gossip + slot clock + clearing + agents.

The node owns no policy about hosts: Home Assistant, the headless CLI and the simulator
drive it through the same API (place / cancel, order book, events, status) and give it a
clock, an aiohttp session and optionally a zeroconf instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from ..agents import AgentDecision, Observation, OrderIntent
from ..agents.inputs import EMPTY_OBSERVATION
from ..auction import clear
from ..gossip import Gossip, PeerTable, start_site
from ..ledger import CancelBody, Kind, Ledger, OrderBody, SealBody
from ..ledger.codec import Entry
from ..ledger.community import Community
from ..ledger.errors import LedgerError
from ..ledger.identity import Identity
from ..ledger.kinds import MAX_ENERGY_WH, MAX_PRICE_TICKS
from ..model import ClearingResult, Side
from .addresses import advertised_host, peer_url
from .agent_host import Agent, AgentHost, ObservationSource
from .clock import Clock, SystemClock
from .config import NodeConfig
from .datadir import DataDir
from .errors import OrderRejectedError
from .events import (
    AgentSchedule,
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
)
from .finality import SlotState, Verdict, judge
from .index import HeldOrder, MarketIndex, OrderStatus, order_root, to_ledger_side
from .views import BookOrder, NodeStatus, PeerStatus, SlotOutcome

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

# Orders further ahead than this are refused: nobody forecasts a week of surplus.
MAX_HORIZON_S = 7 * 86_400
# Decided slots are kept this long for the order book and status, then forgotten.
KEEP_S = 86_400
_SKEW_SAMPLES = 32
_FRESH_MS = 120_000
_PEER_CHECK_S = 1.0

Listener = Callable[[NodeEvent], None]


class Node:
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
        self.agents = AgentHost()
        self._observe: ObservationSource = no_observation
        self._listeners: list[Listener] = []
        self._outcomes: dict[int, SlotOutcome] = {}
        self._own_results: dict[int, tuple[bytes, ClearingResult]] = {}
        self._sources: dict[bytes, str] = {}
        # Orders placed by agents of an earlier run: the agents start afresh, so these
        # are withdrawn rather than left on the book beside the new agents' orders.
        self._stale_agent_orders: list[bytes] = []
        self._saved_agent_orders: dict[str, str] | None = None
        self._entries = 0
        self._skew: deque[int] = deque(maxlen=_SKEW_SAMPLES)
        self._peer_alive: dict[str, bool] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._discovery: list[Any] = []
        self._wake = asyncio.Event()
        self._running = False
        self.address: str | None = None
        self.port: int | None = None
        self.started_ms = 0
        self._next_seal_slot = 0
        self._next_judge_slot = 0
        self._next_agent_ms = 0
        # The instant the slot clock sleeps until (None while it works): lets a
        # simulation step many nodes in lockstep and know when all of them are done.
        self.sleeping_until: int | None = None
        self.stats: dict[str, int] = {
            "seals": 0,
            "orders_placed": 0,
            "orders_rejected": 0,
            "slots_final": 0,
            "slots_disputed": 0,
            "append_failures": 0,
        }
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
        """Open the node of `config.data_dir` (which must hold a community)."""
        clock = clock or SystemClock()
        data = DataDir(config.data_dir)
        loop = asyncio.get_running_loop()
        identity, community = await loop.run_in_executor(
            None, lambda: (data.identity(), data.community())
        )
        ledger = await Ledger.open(
            data.ledger_dir,
            community,
            identity,
            clock_ms=clock.now_ms,
            synchronous=config.synchronous,
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
        for entry in entries:
            if entry.author == self.identity.public_key and entry.kind == Kind.ORDER:
                agent_id = recorded.get(entry.hash.hex())
                self._sources.setdefault(entry.hash, agent_id or "api")
                if agent_id is not None:
                    self._stale_agent_orders.append(entry.hash)

    async def start(self) -> None:
        """Serve gossip, connect to peers, announce, and run the slot clock."""
        if self._running:
            return
        self._running = True
        app = web.Application(client_max_size=self.config.gossip.max_request_bytes)
        app.add_routes(self.gossip.server.routes())
        app.add_routes(self._redeem_routes())
        self._runner, self.port = await start_site(app, self.config.host, self.config.port)
        host = self.config.advertise_host or advertised_host(self.config.host)
        self.address = f"{host}:{self.port}"
        await asyncio.get_running_loop().run_in_executor(None, self.data.save_address, self.address)
        remembered = await asyncio.get_running_loop().run_in_executor(None, self.data.peers)
        for address in (*self.config.peers, *remembered):
            self.add_peer(address)
        await self.gossip.start()
        await self._withdraw_stale_agent_orders()
        await self._start_discovery(host)
        now = self.clock.now_ms()
        self.started_ms = now
        first = self.terms.slot_of(now // 1000)
        self._next_seal_slot = first
        # the current slot has started: its outcome was decided without this node
        self._next_judge_slot = first + self.terms.slot_s
        self._next_agent_ms = now
        self._tasks = [
            asyncio.create_task(self._run_clock(), name="p2p-node-clock"),
            asyncio.create_task(self._watch_peers(), name="p2p-node-peers"),
        ]
        _LOGGER.info(
            "node %s of %r listening on %s",
            self.identity.node_id,
            self.community.name,
            self.address,
        )

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
        for adapter in reversed(self._discovery):
            with contextlib.suppress(Exception):
                await adapter.stop()
        self._discovery = []
        await self.gossip.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._close_resources()
        _LOGGER.info("node %s stopped", self.identity.node_id)

    async def _close_resources(self) -> None:
        await self.ledger.close()
        if self._owns_session and not self.session.closed:
            await self.session.close()

    def _redeem_routes(self) -> web.RouteTableDef:
        from .redeem import RedeemService  # noqa: PLC0415 - keeps invite code off startup

        # Invites are made and redeemed by people: their expiry and the request's
        # freshness follow the wall clock even when the market runs on a faster one.
        service = RedeemService(
            self.ledger,
            clock_s=lambda: time.time_ns() // 1_000_000_000,
            path_prefix=self.config.gossip.path_prefix,
        )
        self.redeem = service
        return service.routes()

    async def _start_discovery(self, host: str) -> None:
        if self._zeroconf is None or self.port is None:
            return
        from ..gossip.discovery import (  # noqa: PLC0415 - zeroconf only when asked for
            PROTOCOL_VERSION,
            NodeAnnouncement,
            ZeroconfAnnouncer,
            ZeroconfBrowser,
        )

        announcement = NodeAnnouncement(
            community_id=self.ledger.community_id,
            node_id=self.identity.public_key,
            host=host,
            port=self.port,
            protocol=PROTOCOL_VERSION,
            name=self.config.name,
        )
        announcer = ZeroconfAnnouncer(self._zeroconf, announcement)
        browser = ZeroconfBrowser(
            self._zeroconf,
            self.ledger.community_id,
            self.identity.public_key,
            lambda found: self.add_peer(f"{found.host}:{found.port}", found.node_id),
            None,
        )
        for adapter in (announcer, browser):
            try:
                await adapter.start()
            except Exception:  # the LAN may refuse multicast; static peers still work
                _LOGGER.exception("zeroconf %s failed to start", type(adapter).__name__)
            else:
                self._discovery.append(adapter)

    # ------------------------------------------------------------------ host API

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Receive every event (called on the event loop); returns an unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: NodeEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a host's faulty listener must not stop the market
                _LOGGER.exception("node event listener failed")

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

    def set_observation_source(self, source: ObservationSource) -> None:
        """Where the agents read the household's readings and forecasts from."""
        self._observe = source

    def add_agent(self, agent: Agent, *, enabled: bool = True) -> None:
        """Let an agent trade for this household (see market.agents)."""
        if agent.agent_id == "api":
            raise ValueError("agent id 'api' is reserved for orders placed by the host")
        self.agents.add(agent, enabled=enabled)

    async def place_order(
        self,
        side: Side,
        energy_wh: int,
        price: int,
        slot: int,
        *,
        expires_s: int = 0,
        source: str = "api",
    ) -> str:
        """Sign and gossip an order for `slot`; returns its id. Raises OrderRejectedError."""
        try:
            self._check_order(side, energy_wh, price, slot, expires_s)
            body = OrderBody(slot, to_ledger_side(side), energy_wh, price, expires_s)
            entry = await self.ledger.append(Kind.ORDER, body.encode())
        except OrderRejectedError as err:
            self._reject(slot, err, source)
            raise
        except LedgerError as err:
            rejected = OrderRejectedError("ledger", str(err))
            self._reject(slot, rejected, source)
            raise rejected from err
        self._accepted(entry, OrderAccepted(entry.hash.hex(), slot, side, energy_wh, price, source))
        return entry.hash.hex()

    def _accepted(self, entry: Entry, event: OrderAccepted) -> None:
        self._sources[entry.hash] = event.source
        self.stats["orders_placed"] += 1
        self._emit(event)

    def _reject(self, slot: int, err: OrderRejectedError, source: str) -> None:
        self.stats["orders_rejected"] += 1
        self._emit(OrderRejected(slot, err.reason, err.detail, source))

    def _check_order(
        self, side: Side, energy_wh: int, price: int, slot: int, expires_s: int
    ) -> None:
        # hosts pass user input (HA services, the CLI): check the types, not just values
        if not isinstance(side, Side):
            raise OrderRejectedError("invalid_side", f"side must be buy or sell, got {side!r}")
        for name, value in (
            ("energy_wh", energy_wh),
            ("price", price),
            ("slot", slot),
            ("expires_s", expires_s),
        ):
            if type(value) is not int:
                raise OrderRejectedError("not_integer", f"{name} must be an integer: {value!r}")
        if not 0 < energy_wh <= MAX_ENERGY_WH:
            raise OrderRejectedError("invalid_energy", f"energy must be 1..{MAX_ENERGY_WH} Wh")
        if not 0 <= price <= MAX_PRICE_TICKS:
            raise OrderRejectedError("invalid_price", f"price must be 0..{MAX_PRICE_TICKS}")
        if slot <= 0 or slot % self.terms.slot_s:
            raise OrderRejectedError(
                "unaligned_slot", f"slot {slot} is not a multiple of {self.terms.slot_s} s"
            )
        now_s = self.clock.now_ms() // 1000
        if now_s >= self.terms.gate_closure(slot):
            raise OrderRejectedError("gate_closed", f"the gate of slot {slot} has closed")
        if slot - now_s > MAX_HORIZON_S:
            raise OrderRejectedError("too_far", f"slot {slot} is more than 7 days ahead")
        if expires_s < 0:
            raise OrderRejectedError("invalid_expiry", "expires_s must be >= 0")
        if not self.ledger.is_member(self.identity.public_key):
            raise OrderRejectedError(
                "not_member", "this node's admission has not reached it yet; retry shortly"
            )

    async def cancel_order(self, order_id: str, *, source: str = "api") -> None:
        """Withdraw one of this node's orders before its gate closure."""
        order = self._check_cancel(order_id)
        if order is None:
            return
        await self.ledger.append(Kind.CANCEL, CancelBody(order.hash).encode())
        self._emit(OrderCancelled(order_id, order.slot, source))

    def _check_cancel(self, order_id: str) -> HeldOrder | None:
        """The order to cancel, None when it is already cancelled; raises otherwise."""
        try:
            order_hash = bytes.fromhex(order_id)
        except ValueError:
            order_hash = b""
        order = self.index.get_order(order_hash)
        if order is None:
            raise OrderRejectedError("unknown_order", f"no order {order_id!r} is held")
        if order.author != self.identity.public_key:
            raise OrderRejectedError("not_own_order", "only the author may cancel an order")
        if self.clock.now_ms() // 1000 >= self.terms.gate_closure(order.slot):
            raise OrderRejectedError("gate_closed", f"the gate of slot {order.slot} has closed")
        if self.index.status(order) is OrderStatus.CANCELLED:
            return None
        return order

    def order_book(self, slot: int) -> list[BookOrder]:
        """Every order held for `slot`, with the rule's verdict on each."""
        me = self.identity.public_key
        return [
            BookOrder(
                order.order_id,
                order.author.hex(),
                order.author == me,
                order.side,
                order.energy_wh,
                order.price,
                status,
                order.timestamp_ms,
            )
            for order, status in self.index.book(slot)
        ]

    def open_orders(self) -> list[BookOrder]:
        """This household's live orders for slots whose gate is still open."""
        now_s = self.clock.now_ms() // 1000
        first = self.terms.first_open_slot(now_s)
        books = (self.order_book(slot) for slot in self.index.slots_with_entries() if slot >= first)
        return [
            order
            for book in books
            for order in book
            if order.own and order.status is OrderStatus.LIVE
        ]

    def outcome(self, slot: int) -> SlotOutcome | None:
        """The slot's outcome once decided at this node."""
        return self._outcomes.get(slot)

    def outcomes(self) -> list[SlotOutcome]:
        """Decided slots still remembered, oldest first."""
        return [self._outcomes[slot] for slot in sorted(self._outcomes)]

    async def status(self) -> NodeStatus:
        """Peers, ledger size, last sync and clock skew."""
        now = time.monotonic()
        peers = tuple(
            PeerStatus(
                peer.url,
                None if peer.key is None else peer.key.hex(),
                peer.alive and peer.last_ok is not None,
                None if peer.last_ok is None else now - peer.last_ok,
            )
            for peer in self.peers.all()
        )
        synced = [peer.last_ok_s_ago for peer in peers if peer.last_ok_s_ago is not None]
        counters = {**self.stats, **self.gossip.counters(), **self.ledger.counters()}
        return NodeStatus(
            node_id=self.identity.public_key.hex(),
            community_id=self.ledger.community_id.hex(),
            community_name=self.community.name,
            address=self.address,
            members=len(self.index.members()),
            peers=peers,
            ledger_entries=self._entries,
            last_sync_s_ago=min(synced) if synced else None,
            clock_skew_ms=int(statistics.median(self._skew)) if self._skew else None,
            is_member=self.ledger.is_member(self.identity.public_key),
            counters=counters,
        )

    async def create_invite(self, *, ttl_s: int = 86_400) -> str:
        """A single-use invite code for a neighbour, valid `ttl_s` seconds."""
        from .invite import create_invite  # noqa: PLC0415

        if self.address is None:
            raise OrderRejectedError("not_running", "start the node before inviting")
        invite = create_invite(
            self.identity,
            self.community,
            self.address,
            now_s=time.time_ns() // 1_000_000_000,
            ttl_s=ttl_s,
        )
        return invite.encode()

    # ------------------------------------------------------------------ ledger feed

    def _on_entries(self, entries: Sequence[Entry], origin: object) -> None:
        self._entries += len(entries)
        if origin is not None:
            now = self.clock.now_ms()
            for entry in entries:
                # fresh entries of peers tell how far their clocks are from ours
                if abs(entry.timestamp_ms - now) < _FRESH_MS:
                    self._skew.append(entry.timestamp_ms - now)
        update = self.index.add(entries)
        for author, seq in update.equivocators:
            self._emit(EquivocationSeen(author.hex(), seq))
        if not self._running:
            return
        for slot in sorted(update.seal_slots):
            if slot >= self._next_judge_slot - KEEP_S or slot in self._outcomes:
                self._judge(slot, self.clock.now_ms())

    # ------------------------------------------------------------------ slot clock

    async def _run_clock(self) -> None:
        while self._running:
            now = self.clock.now_ms()
            await self._seal_due(now)
            self._judge_due(now)
            if now >= self._next_agent_ms:
                await self._run_agents(now)
                self._next_agent_ms = now + self.config.agent_interval_s * 1000
            terms = self.terms
            wake_at = min(
                terms.seal_time(self._next_seal_slot) * 1000,
                self._next_judge_slot * 1000,
                self._next_agent_ms,
            )
            self.sleeping_until = wake_at
            try:
                await self.clock.sleep_until(wake_at)
            finally:
                self.sleeping_until = None

    async def _seal_due(self, now: int) -> None:
        terms = self.terms
        while terms.seal_time(self._next_seal_slot) * 1000 <= now:
            slot = self._next_seal_slot
            self._next_seal_slot += terms.slot_s
            if terms.seal_time(slot) * 1000 < self.started_ms:
                continue  # the node was not running at this seal time: others seal it
            if self.identity.public_key in self.index.seals(slot):
                continue  # sealed before a restart
            await self._seal(slot)

    def _clear_held(self, slot: int) -> tuple[bytes, ClearingResult, bytes]:
        """Clear the order set held for `slot`: (order-set root, result, result hash)."""
        orders = self.index.order_set(slot)
        root = order_root(order.hash for order in orders)
        result = clear([order.to_order() for order in orders], self.terms.clearing_params())
        return root, result, hashlib.sha256(result.to_canonical_json()).digest()

    async def _seal(self, slot: int) -> None:
        root, result, result_hash = self._clear_held(slot)
        self._own_results[slot] = (root, result)
        try:
            await self.ledger.append(Kind.SEAL, SealBody(slot, root, result_hash).encode())
        except LedgerError as err:
            self.stats["append_failures"] += 1
            _LOGGER.warning("could not seal slot %s: %s", slot, err)
            return
        self.stats["seals"] += 1
        _LOGGER.debug("sealed slot %s: %d fills, %d Wh", slot, len(result.fills), result.volume_wh)

    def _judge_due(self, now: int) -> None:
        while self._next_judge_slot * 1000 <= now:
            slot = self._next_judge_slot
            self._next_judge_slot += self.terms.slot_s
            self._judge(slot, now)
        horizon = (now // 1000) - KEEP_S
        stale = [slot for slot in self._outcomes if slot < horizon]
        for slot in stale:
            del self._outcomes[slot]
            self._own_results.pop(slot, None)
        if stale:
            self.index.prune(self.terms.slot_of(horizon))

    def _judge(self, slot: int, now: int) -> None:
        previous = self._outcomes.get(slot)
        if previous is not None and previous.state is SlotState.FINAL:
            return
        deadline = slot * 1000
        verdict = judge(
            self.index.seals(slot), self.index.electorate(slot), deadline_ms=deadline, now_ms=now
        )
        if verdict.state is SlotState.FINAL:
            result = self._result_for(slot, verdict)
            if result is not None:
                late = now >= deadline or previous is not None
                self._decide(slot, verdict, result, late)
                return
            verdict = Verdict(
                SlotState.DISPUTED,
                None,
                None,
                verdict.agreeing,
                verdict.seals,
                verdict.electorate,
                "result_unavailable",
            )
        if verdict.state is SlotState.DISPUTED and previous is None:
            self._decide(slot, verdict, None, now >= deadline)

    def _result_for(self, slot: int, verdict: Verdict) -> ClearingResult | None:
        own = self._own_results.get(slot)
        if own is not None and own[0] == verdict.order_root:
            return own[1]
        # Recompute from what is held now (a node that was away holds it after sync).
        root, result, result_hash = self._clear_held(slot)
        if root != verdict.order_root:
            _LOGGER.warning("slot %s is final on an order set this node does not hold", slot)
            return None
        if result_hash != verdict.result_hash:
            _LOGGER.error("slot %s: the quorum's result differs from this node's clearing", slot)
            return None
        return result

    def _decide(
        self, slot: int, verdict: Verdict, result: ClearingResult | None, late: bool
    ) -> None:
        own_fills: dict[bytes, int] = {}
        if result is None:
            event: SlotCleared | SlotDisputed = SlotDisputed(
                slot, verdict.reason or "no_quorum", verdict.seals, verdict.electorate
            )
            self.stats["slots_disputed"] += 1
        else:
            fills = self._own_fills(result)
            for fill in fills:
                key = bytes.fromhex(fill.order_id)
                own_fills[key] = own_fills.get(key, 0) + fill.energy_wh
            event = SlotCleared(
                slot, result.price, result.volume_wh, result.mechanism, tuple(fills), late
            )
            self.stats["slots_final"] += 1
        self._outcomes[slot] = SlotOutcome(slot, verdict.state, verdict, result, event)
        price = None if result is None else result.price
        self.agents.deliver(slot, own_fills, price)
        self._emit(event)
        self._wake.set()

    def _own_fills(self, result: ClearingResult) -> list[OwnFill]:
        me = self.identity.public_key
        fills: list[OwnFill] = []
        for fill in result.fills:
            order = self.index.get_order(bytes.fromhex(fill.order_id))
            if order is None or order.author != me:
                continue
            source = self.agents.source_of(order.hash) or self._sources.get(order.hash, "api")
            fills.append(OwnFill(fill.order_id, fill.side, fill.energy_wh, fill.price, source))
        return fills

    # ------------------------------------------------------------------ agents

    async def _run_agents(self, now: int) -> None:
        if not self.agents.ids() or not self.ledger.is_member(self.identity.public_key):
            return
        now_s = now // 1000
        try:
            observation = self._observe(now_s)
        except Exception:  # a failing meter must not stop trading decisions for good
            _LOGGER.exception("observation source failed")
            return
        await self._apply(self.agents.decide(now_s, observation))
        for agent_id, schedule in self.agents.schedule_changes():
            self._emit(AgentSchedule(agent_id, schedule))

    async def _apply(self, decisions: list[tuple[str, AgentDecision]]) -> None:
        """Sign every agent's cancels and orders of one run in a single append: one
        commit and one gossip batch instead of one per order."""
        items: list[tuple[int, bytes]] = []
        done: list[Callable[[Entry], None]] = []
        for agent_id, decision in decisions:
            for intent_id in decision.cancel:
                order_hash = self.agents.order_of(intent_id)
                if order_hash is None:
                    continue
                try:
                    order = self._check_cancel(order_hash.hex())
                except OrderRejectedError:
                    continue
                if order is not None:
                    items.append((Kind.CANCEL, CancelBody(order.hash).encode()))
                    done.append(partial(self._cancelled, order, agent_id))
            for intent in decision.place:
                try:
                    self._check_order(intent.side, intent.energy_wh, intent.price, intent.slot, 0)
                except OrderRejectedError as err:
                    self._reject(intent.slot, err, agent_id)
                    continue
                body = OrderBody(
                    intent.slot, to_ledger_side(intent.side), intent.energy_wh, intent.price
                )
                items.append((Kind.ORDER, body.encode()))
                done.append(partial(self._placed, agent_id, intent))
        if not items:
            return
        try:
            entries = await self.ledger.append_many(items)
        except LedgerError as err:
            self.stats["append_failures"] += 1
            _LOGGER.warning("could not sign the agents' orders: %s", err)
            return
        for entry, finish in zip(entries, done, strict=True):
            finish(entry)
        await self._save_agent_orders()

    async def _withdraw_stale_agent_orders(self) -> None:
        stale, self._stale_agent_orders = self._stale_agent_orders, []
        items: list[tuple[int, bytes]] = []
        for order_hash in stale:
            try:
                order = self._check_cancel(order_hash.hex())
            except OrderRejectedError:
                continue  # its gate has closed: it trades or not as agreed
            if order is not None and self.index.status(order) is OrderStatus.LIVE:
                items.append((Kind.CANCEL, CancelBody(order.hash).encode()))
        if items:
            try:
                await self.ledger.append_many(items)
            except LedgerError as err:
                _LOGGER.warning("could not withdraw the previous agents' orders: %s", err)
                return
            _LOGGER.info("withdrew %d open orders of the previous run's agents", len(items))
        await self._save_agent_orders()

    async def _save_agent_orders(self) -> None:
        first_open = self.terms.first_open_slot(self.clock.now_ms() // 1000)
        orders = {
            order_hash.hex(): source
            for order_hash, source in self._sources.items()
            if source != "api"
            and (order := self.index.get_order(order_hash)) is not None
            and order.slot >= first_open
        }
        if orders == self._saved_agent_orders:
            return
        self._saved_agent_orders = orders
        await asyncio.get_running_loop().run_in_executor(None, self.data.save_agent_orders, orders)

    def _cancelled(self, order: HeldOrder, source: str, _entry: Entry) -> None:
        self._emit(OrderCancelled(order.order_id, order.slot, source))

    def _placed(self, agent_id: str, intent: OrderIntent, entry: Entry) -> None:
        self.agents.record_order(agent_id, intent.id, entry.hash)
        self._accepted(
            entry,
            OrderAccepted(
                entry.hash.hex(), intent.slot, intent.side, intent.energy_wh, intent.price, agent_id
            ),
        )

    async def run_agents_now(self) -> None:
        """Let the agents decide at once (after a new reading or a changed session)."""
        await self._run_agents(self.clock.now_ms())

    # ------------------------------------------------------------------ peers

    async def _watch_peers(self) -> None:
        while self._running:
            for peer in self.peers.all():
                alive = peer.alive and peer.last_ok is not None
                before = self._peer_alive.get(peer.url)
                if before is None and not alive and peer.failures == 0:
                    continue  # not tried yet
                if alive != before:
                    self._peer_alive[peer.url] = alive
                    key = None if peer.key is None else peer.key.hex()
                    # Once per change, as the event: gossip retries a lost peer quietly.
                    node_id = self.identity.node_id
                    if alive:
                        _LOGGER.info("node %s: peer %s is reachable", node_id, peer.url)
                    else:
                        _LOGGER.info(
                            "node %s: peer %s is lost; retrying in the background",
                            node_id,
                            peer.url,
                        )
                    self._emit(PeerUp(peer.url, key) if alive else PeerDown(peer.url, key))
                    if alive:
                        await asyncio.get_running_loop().run_in_executor(
                            None, self.data.save_peers, [p.url for p in self.peers.all()]
                        )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _PEER_CHECK_S)
            self._wake.clear()

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
