"""Driving Home Assistant's node and a headless neighbour through traded, metered and
settled slots, on the tests' manual clock (the settlement tests' helpers)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.p2p_energy.energy_statistics import NEIGHBOUR_STATISTICS, statistic_id
from custom_components.p2p_energy.market_hub import MarketHub
from market.model import Side
from market.node import Node
from market.node.clock import ManualClock
from market.node.lockstep import converge
from tests.market.node_harness import T0, Household, advance, wait_until

BID = 1800
ASK = 600
PRICE = 1200  # uniform clearing: halfway between the ask and the bid

Step = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Trade:
    """A slot in which the household buys (`wh` > 0) from the neighbour or sells to it
    (`wh` < 0) what its meter then counts, with `grid_wh` more drawn from the grid;
    unless its meter is not `read`."""

    slot: int
    wh: int
    read: bool = True
    grid_wh: int = 0


@dataclass
class Meter:
    """A household's cumulative import and export indexes (Wh)."""

    node: Node
    import_wh: int = 10_000
    export_wh: int = 5_000
    signed: int = 0

    def sample(self, at_s: int) -> None:
        self.node.record_meter_index(at_s, import_wh=self.import_wh, export_wh=self.export_wh)


@dataclass
class Neighbourhood:
    """Home Assistant's household and its headless neighbour on one manual clock."""

    hass: HomeAssistant
    clock: ManualClock
    ours: Household
    theirs: Household
    meters: dict[int, Meter] = field(default_factory=dict)
    apart: bool = False

    @classmethod
    def of(
        cls, hass: HomeAssistant, clock: ManualClock, hub: MarketHub, theirs: Household
    ) -> Neighbourhood:
        return cls(hass, clock, Household(hub.node), theirs)

    def meter(self, house: Household) -> Meter:
        return self.meters.setdefault(id(house.node), Meter(house.node))

    async def step(self, t_s: int) -> None:
        """Move both nodes to `t_s`: in lockstep, or each on its own while cut apart."""
        if not self.apart:
            await advance(self.clock, [self.ours, self.theirs], t_s)
        else:
            for house in (self.ours, self.theirs):
                await converge([house.node])
            self.clock.advance_to(t_s * 1000)
            for house in (self.ours, self.theirs):
                await converge([house.node])
        await self.hass.async_block_till_done()

    async def cut(self) -> None:
        """No gossip between the two nodes any more."""
        for house, other in ((self.ours, self.theirs), (self.theirs, self.ours)):
            for peer in house.node.peers.all():
                # Home Assistant's node advertises the LAN address of the test's
                # network mock; the neighbour reaches it on loopback
                if peer.url.endswith(f":{other.node.port}"):
                    house.node.peers.remove(peer.url)
        self.apart = True
        # an exchange begun before takes milliseconds on loopback: let it end
        await asyncio.sleep(0.5)

    def join(self) -> None:
        """The two nodes reach each other (again, or after Home Assistant's restarted)."""
        self.ours.node.add_peer(f"127.0.0.1:{self.theirs.node.port}")
        self.theirs.node.add_peer(f"127.0.0.1:{self.ours.node.port}")
        self.apart = False

    async def deliver(
        self,
        trades: Sequence[Trade],
        *,
        before_settling: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Place the trades' orders, then run their slots: clearing, delivery (each
        meter counting the traded energy, sampled at the slot's boundaries), readings,
        settlement seals and their deadline. `before_settling` runs once just before
        the first settle time, once every reading reached both nodes."""
        terms = self.ours.node.terms
        for trade in trades:
            buyer, seller = (self.ours, self.theirs) if trade.wh > 0 else (self.theirs, self.ours)
            await buyer.node.place_order(Side.BUY, abs(trade.wh), BID, trade.slot)
            await seller.node.place_order(Side.SELL, abs(trade.wh), ASK, trade.slot)
        timeline: dict[int, list[tuple[str, Trade | None]]] = defaultdict(list)
        # every slot is sealed on time: members who seal stay in the electorate
        now = self.clock.now_ms() // 1000
        last = max(trade.slot for trade in trades)
        for slot in range(terms.slot_of(now) + terms.slot_s, last, terms.slot_s):
            for at in (terms.seal_time(slot), slot):
                if at > now:
                    timeline[at].append(("slot", None))
        for trade in trades:
            for at, what in (
                (terms.seal_time(trade.slot), "seal"),
                (trade.slot, "start"),
                (trade.slot + 1, "open"),
                (trade.slot + terms.slot_s + 1, "close"),
                (terms.settle_time(trade.slot), "settle"),
                (terms.settle_deadline(trade.slot), "deadline"),
            ):
                timeline[at].append((what, trade))
        hooked = before_settling is None
        for at in sorted(timeline):
            if not hooked and any(what == "settle" for what, _ in timeline[at]):
                hooked = True
                assert before_settling is not None
                await self.step(self.clock.now_ms() // 1000)  # the readings reach everyone
                await before_settling()
            await self.step(at)
            await self._meter(at, timeline[at])

    async def _meter(self, at: int, points: list[tuple[str, Trade | None]]) -> None:
        ours, theirs = self.meter(self.ours), self.meter(self.theirs)
        closing = [trade for what, trade in points if what == "close" and trade is not None]
        if not closing and not any(what == "open" for what, _ in points):
            return
        for trade in closing:
            ours.import_wh += trade.grid_wh
            energy = abs(trade.wh)
            if trade.wh > 0:
                ours.import_wh += energy
                theirs.export_wh += energy
            else:
                ours.export_wh += energy
                theirs.import_wh += energy
        unread = any(not trade.read for trade in closing)
        for meter in (ours, theirs):
            if meter is ours and unread:
                continue  # the household's meter is not heard: no reading of the slot
            meter.sample(at)
            if closing:
                meter.signed += 1
        await wait_until(
            lambda: all(m.node.stats["readings_signed"] >= m.signed for m in (ours, theirs))
        )
        if self.apart:
            return
        # every reading of the closed slots held by both nodes before anyone settles:
        # a node that settles without its neighbour's reading seals another root, and
        # two nodes need both seals (found on the newest Home Assistant, whose loop runs
        # the signing later)
        read = [trade.slot for trade in closing]
        nodes = (ours.node, theirs.node)
        expected = {theirs.node.identity.public_key}
        if not unread:
            expected.add(ours.node.identity.public_key)

        def held() -> bool:
            return all(
                set(node.index.settlements.readings(slot)) >= expected
                for node in nodes
                for slot in read
            )

        await wait_until(held)


# ---------------------------------------------------------------- the recorder's statistics

Rows = dict[str, list[tuple[int, float, float]]]


async def neighbour_statistics(hass: HomeAssistant, hub: MarketHub) -> Rows:
    """Each neighbour statistic's hourly (start, state, sum), once every import is done
    and in the database."""
    statistics = hub.settlements.statistics
    async with asyncio.timeout(10):
        while statistics.busy:
            await asyncio.sleep(0.02)
            await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    ids = {spec.key: statistic_id(spec.key, hub.node_id) for spec in NEIGHBOUR_STATISTICS}
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime.fromtimestamp(T0 - 86_400, UTC),
        None,
        set(ids.values()),
        "hour",
        None,
        {"state", "sum"},
    )
    return {
        key: [
            (
                int(row["start"]),
                round(float(row["state"] or 0), 6),
                round(float(row["sum"] or 0), 6),
            )
            for row in found.get(sid, [])
        ]
        for key, sid in ids.items()
    }
