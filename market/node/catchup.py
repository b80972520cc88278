"""Learning this node's own chain from its peers before it signs anything.

A node restarted from an older copy of its data dir (a restored backup) holds a shorter
chain than its peers do: the entries it signed after the copy was taken live on only at
its peers. Signing from its stale head would reuse those seqs, an equivocation that
voids its orders and that its peers hold against it for good. So the node starts with
its ledger's signing held, asks its peers for its own chain with the usual frontier and
pull exchanges, ingests what they hold beyond its head, and only then signs again.

Peers' answers are hostile input: frontiers and batches are bounded by the gossip
client, entries are checked by the ledger (no peer can forge this node's signature),
and a peer claiming entries it does not serve confirms nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from enum import Enum, StrEnum
from typing import Final

from ..gossip import Gossip
from ..gossip.client import PeerRequestError
from ..gossip.peers import Peer
from ..ledger import Ledger
from ..ledger.ledger import Origin
from ..supervise import FaultLog, wait_event
from .errors import OrderRejectedError
from .events import ChainStateChanged, NodeEvent

_LOGGER = logging.getLogger(__name__)

# How long `Node.start` waits for the first round of answers before it returns with the
# node still catching up (the rounds go on in the background).
START_WAIT_S: Final = 5.0
COUNTERS: Final = (
    "catchup_entries",  # own entries learnt from peers at start
    "catchup_unserved",  # peers that claimed own entries they did not serve
    "catchup_errors",  # rounds that failed on this node's side (logged, retried)
    "signing_refused",  # host orders and cancels refused while catching up or forked
    "agent_runs_skipped",  # agent runs skipped while catching up
)


_FORKED = (
    "a neighbour holds an entry signed with this node's key that conflicts with its own "
    "chain: this key signed twice (an older copy of the data dir ran, or another machine "
    "uses the same key)"
)


class ChainState(StrEnum):
    """Whether this node may sign."""

    CATCHING_UP = "catching_up"  # asking peers for its own chain; signs nothing
    READY = "ready"  # a peer confirmed its head (or nobody could be asked)
    UNCONFIRMED = "unconfirmed"  # no peer answered within catchup_timeout_s; signs anyway
    FORKED = "forked"  # a peer holds an entry of its key that conflicts with its chain


class _Answer(Enum):
    NONE = "none"  # no answer (network, refusal, malformed reply)
    CONFIRMED = "confirmed"  # the node holds everything of its own the peer holds
    UNSERVED = "unserved"  # the peer claimed more than it served
    FORKED = "forked"


class CatchUp:
    """Holds the ledger's signing from construction until the node knows its head."""

    def __init__(
        self,
        ledger: Ledger,
        gossip: Gossip,
        emit: Callable[[NodeEvent], None],
        timeout_s: float | None,
    ) -> None:
        """Catch `ledger` up with the peers of `gossip`; after `timeout_s` without an
        answer sign anyway (None: wait for one)."""
        self.ledger = ledger
        self.client = gossip.client
        self.peers = gossip.peers
        self.config = gossip.config
        self._emit = emit
        self._timeout_s = timeout_s
        self._me = ledger.identity.public_key if ledger.identity is not None else b""
        self.state = ChainState.CATCHING_UP
        self.detail = "asking the neighbours for this node's own chain"
        self.stats = dict.fromkeys(COUNTERS, 0)
        self.faults = FaultLog("catching up", self.stats, "catchup_errors")
        self._wake = asyncio.Event()
        self.first_round = asyncio.Event()
        # duties a host asked for meanwhile that sign (withdrawals), run once it may
        self._deferred: list[Callable[[], Awaitable[object]]] = []
        self._unserved: set[str] = set()
        ledger.hold_signing()

    @property
    def ready(self) -> bool:
        """Whether the node may sign."""
        return self.state in (ChainState.READY, ChainState.UNCONFIRMED)

    def check(self) -> None:
        """Raise OrderRejectedError unless the node may sign (a host order or cancel)."""
        if self.ready:
            return
        self.stats["signing_refused"] += 1
        if self.state is ChainState.FORKED:
            raise OrderRejectedError("chain_forked", self.detail)
        raise OrderRejectedError(
            "catching_up", "the node is learning its own chain from its neighbours; retry soon"
        )

    def allows(self, counter: str) -> bool:
        """Whether a duty that signs may run now; counts it under `counter` if not."""
        if not self.ready:
            self.stats[counter] += 1
        return self.ready

    def defer(self, duty: Callable[[], Awaitable[object]]) -> bool:
        """Run `duty` once the node may sign; False when it may now (run it at once)."""
        if self.ready:
            return False
        self._deferred.append(duty)
        return True

    def peer_added(self) -> None:
        """A new peer: ask it at once."""
        self._wake.set()

    # ------------------------------------------------------------------ the rounds

    async def run(self, alone: bool, then: Callable[[], Awaitable[None]]) -> None:
        """Ask the peers until one confirms this node's head, then run `then` (the first
        entries the node signs) before anything else may sign. `alone`: the community
        has no other member, so nobody can hold this node's entries. A failing round is
        logged and retried: the node must never stay silently unable to sign."""
        try:
            while True:
                try:
                    state, detail = await self._run(alone)
                    break
                except Exception as err:  # a store error must not end catching up for good
                    self.faults.failed(err)
                    self.first_round.set()
                    await asyncio.sleep(self.config.pull_interval_s)
            self.faults.recovered()
            if state is not ChainState.FORKED:
                await self.ledger.release_signing()
                # until the state flips (no await in between) hosts may defer more
                pending: list[Callable[[], Awaitable[object]]] = [then]
                while pending:
                    for duty in pending:
                        try:
                            await duty()
                        except Exception:  # logged, not lost: the node signs from now on
                            _LOGGER.exception("a signing duty deferred while catching up failed")
                    pending, self._deferred = self._deferred, []
            self.state = state
            self.detail = detail
            level = logging.INFO if state is ChainState.READY else logging.WARNING
            if state is ChainState.FORKED:
                level = logging.ERROR
            elif self.stats["catchup_entries"]:
                level = logging.WARNING  # worth a look: the data dir was behind
            _LOGGER.log(level, "chain %s: %s", state, detail)
            self._emit(ChainStateChanged(str(state), detail))
        finally:
            self.first_round.set()

    async def _run(self, alone: bool) -> tuple[ChainState, str]:  # noqa: PLR0911 - a return per state
        if await self.ledger.equivocations_by(self._me):
            # Proven before (this run or an earlier one): no neighbour need be asked.
            return ChainState.FORKED, _FORKED
        if alone:
            return ChainState.READY, "no other member to ask"
        if not self.peers.all():
            # Nobody to ask: the first node of a community, or one that never met a
            # neighbour. A restored data dir keeps peers.json, so it asks.
            return ChainState.READY, "no neighbour known to ask"
        loop = asyncio.get_running_loop()
        deadline = None if self._timeout_s is None else loop.time() + self._timeout_s
        known = set(await self.ledger.equivocations_by(self._me))
        _LOGGER.info("chain catching_up: asking %d neighbours for it", len(self.peers))
        while True:
            answer = await self._round()
            if answer is _Answer.NONE and set(await self.ledger.equivocations_by(self._me)) - known:
                answer = _Answer.FORKED  # an ordinary sync of this round revealed it
            if answer is _Answer.FORKED:
                return ChainState.FORKED, _FORKED
            if answer is _Answer.CONFIRMED:
                learnt = self.stats["catchup_entries"]
                if learnt:
                    detail = (
                        f"learnt {learnt} entries of its own chain from the neighbours that "
                        "its data had lost (a restored backup?); signing after them"
                    )
                    return ChainState.READY, detail
                return ChainState.READY, "a neighbour confirmed its head"
            self.first_round.set()
            if deadline is not None and loop.time() >= deadline:
                detail = f"no neighbour answered in {self._timeout_s:g} s; signing unconfirmed"
                return ChainState.UNCONFIRMED, detail
            self._wake.clear()
            await wait_event(self._wake, self.config.pull_interval_s)

    async def _round(self) -> _Answer:
        """Ask every peer not in backoff at once and wait for all of them (each request
        is bounded by the gossip timeout): a peer that missed some of this node's
        entries must not confirm a head another peer knows to be stale."""
        answers = await asyncio.gather(*(self._ask(peer) for peer in self.peers.due()))
        for decisive in (_Answer.FORKED, _Answer.CONFIRMED):
            if decisive in answers:
                return decisive
        return _Answer.NONE

    async def _ask(self, peer: Peer) -> _Answer:
        try:
            answer = await self._exchange(peer)
        except PeerRequestError as err:
            _LOGGER.debug("catch-up with %s failed: %s", peer.url, err)
            self.peers.mark_failed(peer)
            return _Answer.NONE
        self.peers.mark_ok(peer)
        if answer is _Answer.UNSERVED:
            self.stats["catchup_unserved"] += 1
            if peer.url not in self._unserved:  # once per peer: rounds repeat every few s
                self._unserved.add(peer.url)
                _LOGGER.warning("%s claims entries of this node it does not serve", peer.url)
        return answer

    async def _exchange(self, peer: Peer) -> _Answer:
        me = self._me
        theirs = await self.client.exchange_frontier(peer, await self.ledger.frontier())
        claim = theirs.get(me)
        if claim is None:
            return _Answer.CONFIRMED  # it holds nothing of ours
        claimed_seq, claimed_hash = claim
        for _round in range(self.config.max_pull_rounds):
            head = (await self.ledger.frontier()).get(me)
            local_seq = 0 if head is None else head[0]
            if claimed_seq <= local_seq and await self.ledger.get(claimed_hash) is not None:
                return _Answer.CONFIRMED
            # From our head inclusive (or from its claim when that is below our head), so
            # that an entry conflicting with ours comes back and proves the fork.
            from_seq = max(1, min(claimed_seq, local_seq))
            data, _more = await self.client.pull(peer, [(me, from_seq)])
            result = await self.ledger.ingest(data, origin=Origin(peer.key, peer.url))
            self.stats["catchup_entries"] += sum(e.author == me for e in result.accepted)
            if any(proof.author == me for proof in result.equivocations):
                return _Answer.FORKED
            if not result.accepted:
                if await self.ledger.equivocations_by(me):
                    # known from an earlier run: the peer holds the other chain of this key
                    return _Answer.FORKED
                break
        return _Answer.UNSERVED
