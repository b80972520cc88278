"""This node's own orders: checked, signed, withdrawn, and who placed each of them.

The one place that knows an order's source: "api" (or whatever name a host gives its
own orders) or the id of the agent that placed it, with the agent's intent id. Book
entries, fills, events and the agents' results all read it from here, and it forgets
an order when the index forgets its slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

from ..agents import AgentDecision, OrderIntent
from ..ledger import CancelBody, Kind, Ledger, OrderBody, RevokeBody
from ..ledger.codec import Entry
from ..ledger.errors import LedgerError, StorageError
from ..ledger.identity import Identity
from ..model import Side
from ..supervise import FaultLog
from ..terms import CommunityTerms
from .clock import Clock
from .datadir import DataDir
from .errors import OrderRejectedError
from .events import NodeEvent, OrderAccepted, OrderCancelled, OrderRejected
from .index import HeldOrder, MarketIndex, OrderStatus, to_ledger_side
from .views import BookOrder

_LOGGER = logging.getLogger(__name__)

# The source of orders a host places itself (HA services, the CLI).
API_SOURCE: Final = "api"


@dataclass(frozen=True, slots=True)
class Placement:
    """Who placed one of this node's orders, for which slot."""

    slot: int
    source: str
    intent_id: str | None = None  # the agent's intent (None for host orders and restarts)


class OwnOrders:
    """The placements of this node's orders, by order hash and by agent intent."""

    def __init__(self) -> None:
        self._by_hash: dict[bytes, Placement] = {}
        self._by_intent: dict[str, bytes] = {}

    def record(self, order_hash: bytes, placement: Placement) -> None:
        """Remember who placed an order (the first record of an order wins)."""
        if order_hash in self._by_hash:
            return
        self._by_hash[order_hash] = placement
        if placement.intent_id is not None:
            self._by_intent[placement.intent_id] = order_hash

    def fills_by_agent(self, own_fills: Mapping[bytes, int]) -> dict[str, dict[str, int]]:
        """Own fills (Wh per order hash) as each agent knows them: Wh per intent id."""
        by_agent: dict[str, dict[str, int]] = {}
        for order_hash, energy_wh in own_fills.items():
            placement = self._by_hash.get(order_hash)
            if placement is not None and placement.intent_id is not None:
                by_agent.setdefault(placement.source, {})[placement.intent_id] = energy_wh
        return by_agent

    def source_of(self, order_hash: bytes) -> str:
        """An order's source; "api" for an order no agent placed."""
        placement = self._by_hash.get(order_hash)
        return API_SOURCE if placement is None else placement.source

    def order_of(self, intent_id: str) -> bytes | None:
        """The order entry of an agent's intent, if it was placed."""
        return self._by_intent.get(intent_id)

    def agent_orders(self, first_slot: int) -> dict[str, str]:
        """Agents' orders for `first_slot` and later, as order hash hex -> agent id."""
        return {
            order_hash.hex(): placement.source
            for order_hash, placement in self._by_hash.items()
            if placement.source != API_SOURCE and placement.slot >= first_slot
        }

    def prune(self, before_slot: int) -> None:
        """Forget orders of slots before `before_slot` (the index forgets them too)."""
        old = [h for h, placement in self._by_hash.items() if placement.slot < before_slot]
        for order_hash in old:
            intent_id = self._by_hash.pop(order_hash).intent_id
            if intent_id is not None:
                self._by_intent.pop(intent_id, None)

    def __len__(self) -> int:
        return len(self._by_hash)


class OrderDesk:
    """Checks, signs and withdraws this node's orders, and knows who placed each."""

    def __init__(
        self,
        ledger: Ledger,
        identity: Identity,
        index: MarketIndex,
        clock: Clock,
        data: DataDir,
        stats: dict[str, int],
        emit: Callable[[NodeEvent], None],
        writes: FaultLog,
    ) -> None:
        """`writes` counts and reports the own appends that fail (a full disk)."""
        self.ledger = ledger
        self.identity = identity
        self.index = index
        self.terms: CommunityTerms = ledger.community.terms
        self.clock = clock
        self.data = data
        self.stats = stats
        self.writes = writes
        self.own = OwnOrders()
        self._emit = emit
        self._saved_agent_orders: dict[str, str] | None = None
        # Orders placed by agents of an earlier run: the agents start afresh, so these
        # are withdrawn rather than left on the book beside the new agents' orders.
        self._stale: list[bytes] = []

    def load(self, entries: Iterable[Entry], recorded: dict[str, str]) -> None:
        """Attribute the stored own orders (`recorded`: the agents' orders persisted by
        the previous run); the agents' ones are withdrawn once the node may sign."""
        me = self.identity.public_key
        stale: list[bytes] = []
        for entry in entries:
            if entry.author != me or entry.kind != Kind.ORDER:
                continue
            order = self.index.get_order(entry.hash)
            if order is None:
                continue  # its slot is long gone
            agent_id = recorded.get(entry.hash.hex())
            self.own.record(entry.hash, Placement(order.slot, agent_id or API_SOURCE))
            if agent_id is not None:
                stale.append(entry.hash)
        self._stale = stale

    def _now_s(self) -> int:
        return self.clock.now_ms() // 1000

    # ------------------------------------------------------------------ checks

    def check_order(
        self, side: Side, energy_wh: int, price: int, slot: int, expires_s: int
    ) -> None:
        """Raise OrderRejectedError unless this node may place the order now."""
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
        # The terms' own rule, the one every peer applies when it stores the order.
        refusal = self.terms.order_refusal(slot, energy_wh, price, expires_s, self.clock.now_ms())
        if refusal is not None:
            raise OrderRejectedError(refusal.reason, refusal.detail)
        self.check_standing()

    def check_standing(self) -> None:
        """Raise OrderRejectedError unless this node's key counts as a member."""
        me = self.identity.public_key
        if not self.ledger.is_member(me):
            raise OrderRejectedError(
                "not_member", "this node's admission has not reached it yet; retry shortly"
            )
        if self.index.admissions.revocation(me) is not None:
            raise OrderRejectedError("revoked", self.index.admissions.explain(me))
        if not self.index.is_member(me):
            raise OrderRejectedError(
                "not_admitted", self.index.admissions.explain(self.identity.public_key)
            )

    def held(self, order_id: str) -> HeldOrder | None:
        """Any member's order held under `order_id` (hex); None when unknown or malformed."""
        try:
            order_hash = bytes.fromhex(order_id)
        except ValueError:
            return None
        return self.index.get_order(order_hash)

    def check_cancel(self, order_id: str) -> HeldOrder | None:
        """The order to cancel, None when it is already cancelled; raises otherwise."""
        order = self.held(order_id)
        if order is None:
            raise OrderRejectedError("unknown_order", f"no order {order_id!r} is held")
        if order.author != self.identity.public_key:
            raise OrderRejectedError("not_own_order", "only the author may cancel an order")
        if self._now_s() >= self.terms.gate_closure(order.slot):
            raise OrderRejectedError("gate_closed", f"the gate of slot {order.slot} has closed")
        if self.index.status(order) is OrderStatus.CANCELLED:
            return None
        return order

    # ------------------------------------------------------------------ host orders

    async def place(
        self, side: Side, energy_wh: int, price: int, slot: int, expires_s: int, source: str
    ) -> str:
        """Sign and gossip an order; returns its id. Raises OrderRejectedError."""
        try:
            self.check_order(side, energy_wh, price, slot, expires_s)
            body = OrderBody(slot, to_ledger_side(side), energy_wh, price, expires_s)
            entry = await self.ledger.append(Kind.ORDER, body.encode())
        except OrderRejectedError as err:
            self._reject(slot, err, source)
            raise
        except LedgerError as err:
            if isinstance(err, StorageError):
                self.writes.failed(err)
            rejected = OrderRejectedError("ledger", str(err))
            self._reject(slot, rejected, source)
            raise rejected from err
        self._placed(Placement(slot, source), side, energy_wh, price, entry)
        return entry.hash.hex()

    async def leave(self) -> Entry:
        """Sign the revoke of this node's own key: it leaves the community. Its open
        orders need no cancel: every node voids a revoked key's orders in the slots
        whose gate closes after the revocation (market.node.index)."""
        self.check_standing()
        body = RevokeBody(self.identity.public_key).encode()
        try:
            entry = await self.ledger.append(Kind.REVOKE, body)
        except LedgerError as err:
            raise OrderRejectedError("ledger", str(err)) from err
        _LOGGER.info("left the community: this node's key is revoked from now on")
        return entry

    async def vote_to_remove(self, member: bytes) -> Entry | None:
        """Sign this node's vote to remove `member` (a revoke naming it); None when this
        node voted so already. The member is removed, at every node, once the votes of
        more than half of the other counted members are held (market.ledger.revocation)."""
        self.check_standing()
        me = self.identity.public_key
        if member == me:
            raise OrderRejectedError("invalid_member", "a node leaves with leave(), not a vote")
        if not self.index.is_member(member):
            raise OrderRejectedError(
                "invalid_member", f"{member.hex()[:16]} is not a counted member"
            )
        if self.index.admissions.has_voted(me, member):
            return None
        try:
            return await self.ledger.append(Kind.REVOKE, RevokeBody(member).encode())
        except LedgerError as err:
            raise OrderRejectedError("ledger", str(err)) from err

    async def vote_to_replace(self, member: bytes, successor: bytes) -> Entry | None:
        """Sign this node's vote to replace `member`'s key by `successor` (a household
        that lost its key and joined again with a new one); None when this node voted so
        already. It takes effect once more than half of the other counted members voted
        for the same successor (market.ledger.revocation)."""
        self.check_standing()
        if member == self.identity.public_key:
            raise OrderRejectedError("invalid_member", "a node hands its key on with rotate_key()")
        for key in (member, successor):
            if not self.index.is_member(key):
                raise OrderRejectedError(
                    "invalid_member", f"{key.hex()[:16]} is not a counted member"
                )
        if member == successor:
            raise OrderRejectedError("invalid_member", "a key cannot be replaced by itself")
        if self.index.admissions.has_voted(self.identity.public_key, member, successor):
            return None
        body = RevokeBody(member, successor).encode()
        try:
            return await self.ledger.append(Kind.REVOKE, body)
        except LedgerError as err:
            raise OrderRejectedError("ledger", str(err)) from err

    async def cancel(self, order_id: str, source: str) -> None:
        """Withdraw one of this node's orders before its gate closure."""
        order = self.check_cancel(order_id)
        if order is None:
            return
        await self.ledger.append(Kind.CANCEL, CancelBody(order.hash).encode())
        self._emit(OrderCancelled(order_id, order.slot, source))

    def _placed(
        self, placement: Placement, side: Side, energy_wh: int, price: int, entry: Entry
    ) -> None:
        self.own.record(entry.hash, placement)
        self.stats["orders_placed"] += 1
        order_id = entry.hash.hex()
        self._emit(
            OrderAccepted(order_id, placement.slot, side, energy_wh, price, placement.source)
        )

    def _reject(self, slot: int, err: OrderRejectedError, source: str) -> None:
        self.stats["orders_rejected"] += 1
        self._emit(OrderRejected(slot, err.reason, err.detail, source))

    # ------------------------------------------------------------------ agents' orders

    async def apply(self, decisions: Sequence[tuple[str, AgentDecision]]) -> None:
        """Sign every agent's cancels and orders of one run in a single append: one
        commit and one gossip batch instead of one per order."""
        items: list[tuple[int, bytes]] = []
        done: list[Callable[[Entry], None]] = []
        for agent_id, decision in decisions:
            for intent_id in decision.cancel:
                order_hash = self.own.order_of(intent_id)
                if order_hash is not None:
                    self._add_cancel(order_hash, agent_id, items, done)
            for intent in decision.place:
                try:
                    self.check_order(intent.side, intent.energy_wh, intent.price, intent.slot, 0)
                except OrderRejectedError as err:
                    self._reject(intent.slot, err, agent_id)
                    continue
                body = OrderBody(
                    intent.slot, to_ledger_side(intent.side), intent.energy_wh, intent.price
                )
                items.append((Kind.ORDER, body.encode()))
                done.append(partial(self._intent_placed, agent_id, intent))
        if await self._append(items, done, "could not sign the agents' orders"):
            await self.save_agent_orders()

    def _add_cancel(
        self,
        order_hash: bytes,
        source: str,
        items: list[tuple[int, bytes]],
        done: list[Callable[[Entry], None]],
    ) -> None:
        try:
            order = self.check_cancel(order_hash.hex())
        except OrderRejectedError:
            return  # its gate has closed: it trades or not as agreed
        if order is not None:
            items.append((Kind.CANCEL, CancelBody(order.hash).encode()))
            done.append(partial(self._cancelled, order, source))

    async def _append(
        self, items: list[tuple[int, bytes]], done: list[Callable[[Entry], None]], failure: str
    ) -> bool:
        if not items:
            return False
        try:
            entries = await self.ledger.append_many(items)
        except StorageError as err:
            self.writes.failed(err)
            return False
        except LedgerError as err:
            self.stats["append_failures"] += 1
            _LOGGER.warning("%s: %s", failure, err)
            return False
        for entry, finish in zip(entries, done, strict=True):
            finish(entry)
        return True

    def _intent_placed(self, agent_id: str, intent: OrderIntent, entry: Entry) -> None:
        placement = Placement(intent.slot, agent_id, intent.id)
        self._placed(placement, intent.side, intent.energy_wh, intent.price, entry)

    def _cancelled(self, order: HeldOrder, source: str, _entry: Entry) -> None:
        self._emit(OrderCancelled(order.order_id, order.slot, source))

    async def withdraw(self, source: str) -> int:
        """Cancel every live order of `source` whose gate is open, in one append."""
        items: list[tuple[int, bytes]] = []
        done: list[Callable[[Entry], None]] = []
        for order in self.open_orders():
            if order.source == source:
                self._add_cancel(bytes.fromhex(order.order_id), source, items, done)
        await self._append(items, done, f"could not withdraw the orders of {source}")
        return len(items)

    async def withdraw_previous_run(self) -> None:
        """Cancel the open orders the previous run's agents left: the agents start
        afresh, so these would stand beside the new agents' orders."""
        items: list[tuple[int, bytes]] = []
        done: list[Callable[[Entry], None]] = []
        stale, self._stale = self._stale, []
        for order_hash in stale:
            order = self.index.get_order(order_hash)
            if order is not None and self.index.status(order) is OrderStatus.LIVE:
                self._add_cancel(order_hash, self.own.source_of(order_hash), items, done)
        if await self._append(items, done, "could not withdraw the previous agents' orders"):
            _LOGGER.info("withdrew %d open orders of the previous run's agents", len(items))
        await self.save_agent_orders()

    async def save_agent_orders(self) -> None:
        """Persist which open orders agents placed (they are withdrawn after a restart)."""
        orders = self.own.agent_orders(self.terms.first_open_slot(self._now_s()))
        if orders == self._saved_agent_orders:
            return
        self._saved_agent_orders = orders
        await asyncio.get_running_loop().run_in_executor(None, self.data.save_agent_orders, orders)

    # ------------------------------------------------------------------ views

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
                order.slot,
                self.own.source_of(order.hash) if order.author == me else None,
            )
            for order, status in self.index.book(slot)
        ]

    def open_orders(self) -> list[BookOrder]:
        """This household's live orders for slots whose gate is still open, by slot."""
        first = self.terms.first_open_slot(self._now_s())
        return [
            order
            for slot in self.index.slots_with_entries()
            if slot >= first
            for order in self.order_book(slot)
            if order.own and order.status is OrderStatus.LIVE
        ]
