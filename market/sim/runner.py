"""A neighbourhood of real market nodes driven by simulated households.

Every household runs a real `Node` (its own SQLite ledger, its own gossip server on
loopback, real seals and finality); its agents read the household's simulated PV and
load; after each slot the simulated meters settle it. With no `speed` the nodes share
a `ManualClock` stepped in lockstep (each step waits until every node has acted and
every ledger holds the same entries), so a run is deterministic for its seed and runs
as fast as the machine allows. With a `speed`, the nodes follow a `ScaledClock` (the
demo, where a Home Assistant node joins the same neighbourhood).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..agents import ConsumptionBuyerAgent, EvChargingAgent, HouseholdLimits, PvSellerAgent
from ..gossip import GossipConfig
from ..ledger.codec import Entry
from ..ledger.community import Community
from ..ledger.identity import KEY_FILE_NAME
from ..ledger.ledger import Origin
from ..localtime import local_midnight_utc
from ..model import ClearingResult, Side
from ..node import DataDir, ManualClock, Node, NodeConfig, ScaledClock
from ..node.clock import Clock
from ..node.lockstep import step_to
from ..settlement.public import priced
from ..tariff import BASE_TARIFF, GridPrices
from ..terms import CommunityTerms
from .battery import HomeBattery
from .household import Household
from .live import observation_source
from .metering import meter_slot
from .neighbourhood import make_neighbourhood
from .report import HouseholdUsage, Report, ev_local_wh
from .site import LYON_LATITUDE, LYON_LONGITUDE

_LOGGER = logging.getLogger(__name__)

# In lockstep every node writes at the same instant: one push round seeds the entries
# and frequent anti-entropy (one pull fetches every author's news at once) spreads
# them in about log2(N) rounds, far fewer requests than pushing each batch along.
SIM_GOSSIP = GossipConfig(
    pull_interval_s=0.1,
    pull_idle_max_s=0.5,
    push_delay_s=0.005,
    own_rounds=1,
    forward_rounds=0,
    push_on_sync=False,
    backoff_base_s=0.1,
    backoff_max_s=1.0,
)
# Each node knows this many random neighbours (a LAN mesh of 50 would cost 2,450 links).
SIM_PEERS = 8
DEFAULT_START = date(2026, 6, 15)
# The consumption buyer's agent id: every other bid of a household buys for its car.
LOAD_AGENT = "load"


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """A simulation run. `hours` (when given) overrides `days`."""

    households: int = 12
    days: int = 1
    hours: int | None = None
    seed: int = 1
    start: date = DEFAULT_START
    start_hour: int = 0  # local hour of the start day the run begins at
    latitude: float = LYON_LATITUDE
    longitude: float = LYON_LONGITUDE
    ev_share: float = 0.25
    battery_share: float = 0.1
    pv_share: float = 0.4
    terms: CommunityTerms = field(default_factory=CommunityTerms)
    speed: float | None = None
    work_dir: Path = Path("sim-work")
    host: str = "127.0.0.1"

    @property
    def duration_s(self) -> int:
        """Simulated time covered."""
        return (self.hours if self.hours is not None else 24 * self.days) * 3600

    @property
    def start_s(self) -> int:
        """The run's first slot: `start_hour` on the start day, local time (Unix s)."""
        start = local_midnight_utc(self.start) + 3600 * self.start_hour
        return start - start % self.terms.slot_s


def _bank_top_up(home: SimHousehold, arrival: int, agent: object) -> None:
    """A session left: what it charged beyond its need stays in the battery."""
    required = home.ev_required.pop(arrival, 0)
    schedule = agent.schedule if isinstance(agent, EvChargingAgent) else None
    if schedule is None:
        return
    charged = sum(e.energy_wh for e in schedule.slots if e.slot < schedule.session.departure)
    spec = home.spec.ev
    cap = 0 if spec is None else spec.battery_wh
    home.ev_banked_wh = min(cap, home.ev_banked_wh + max(0, charged - required))


def household_seed(seed: int, household_id: str) -> bytes:
    """A node key seed derived from the run's seed: same seed, same keys, same ledger."""
    return hashlib.sha256(f"p2p-energy sim {seed} {household_id}".encode()).digest()


@dataclass(slots=True)
class SimHousehold:
    """One simulated home and its node."""

    spec: Household
    node: Node
    limits: HouseholdLimits
    battery: HomeBattery | None
    ev_agents: dict[int, str] = field(default_factory=dict)  # session arrival -> agent id
    # what the car's top-ups put in its battery beyond their sessions' need (Wh): the
    # next sessions need that much less
    ev_banked_wh: int = 0
    ev_required: dict[int, int] = field(default_factory=dict)  # arrival -> Wh it needed
    # the simulated meter's cumulative indexes (Wh), which the node signs readings from
    import_index: int = 0
    export_index: int = 0


class Neighbourhood:
    """The households, their nodes and the report of what they traded."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.terms = config.terms
        self.specs = make_neighbourhood(
            config.households,
            seed=config.seed,
            latitude=config.latitude,
            longitude=config.longitude,
            ev_share=config.ev_share,
            battery_share=config.battery_share,
            pv_share=config.pv_share,
        )
        self.clock: Clock
        self.clock_spec: str | None = None
        start_ms = (config.start_s - config.terms.slot_s) * 1000
        if config.speed is None:
            self.manual: ManualClock | None = ManualClock(start_ms)
            self.clock = self.manual
        else:
            self.manual = None
            # anchored on a whole second, so that other processes (the demo's Home
            # Assistant) can be given the very same clock as text
            anchor_s = int(time.time()) + 1
            self.clock = ScaledClock(start_ms, config.speed, anchor_s * 1000)
            self.clock_spec = f"{start_ms // 1000}:{anchor_s}:{config.speed}"
        self.homes: list[SimHousehold] = []
        self.community: Community | None = None
        self.report = Report(
            slot_s=self.terms.slot_s,
            labels={spec.id: spec.describe() for spec in self.specs},
            currency=self.terms.currency,
            retail=self.terms.ceiling,
            feed_in=self.terms.floor,
        )
        self._author_of: dict[bytes, str] = {}
        self._ledger_bytes = 0
        self._ev_wh: dict[int, dict[str, int]] = {}
        # per metered slot, what each household used behind its meter (for the report)
        self._usage: dict[int, dict[str, HouseholdUsage]] = {}
        self.on_slot: list[Callable[[int], None]] = []

    # ------------------------------------------------------------------ set-up

    def _prepare_dirs(self) -> list[DataDir]:
        dirs: list[DataDir] = []
        for spec in self.specs:
            data = DataDir(self.config.work_dir / spec.id)
            data.path.mkdir(parents=True, exist_ok=True)
            key = data.path / KEY_FILE_NAME
            if not key.exists():
                fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    os.write(fd, household_seed(self.config.seed, spec.id))
                finally:
                    os.close(fd)
            dirs.append(data)
        return dirs

    async def open(self) -> None:
        """Create the community and start every node."""
        loop = asyncio.get_running_loop()
        dirs = await loop.run_in_executor(None, self._prepare_dirs)
        keys = [(await loop.run_in_executor(None, data.identity)).public_key for data in dirs]
        # Founded a little before the run, so its first slots already have an electorate.
        founded_ms = (self.config.start_s - 2 * self.terms.slot_s) * 1000
        self.community = Community.create("Simulated neighbourhood", founded_ms, keys, self.terms)
        for data, key, spec in zip(dirs, keys, self.specs, strict=True):
            await loop.run_in_executor(None, data.save_community, self.community)
            self._author_of[key] = spec.id
        for data, spec in zip(dirs, self.specs, strict=True):
            node = await Node.open(
                NodeConfig(
                    data_dir=data.path,
                    host=self.config.host,
                    gossip=SIM_GOSSIP,
                    synchronous="NORMAL",
                ),
                clock=self.clock,
            )
            # The agents bid at most the household's own import price of each slot and
            # ask at least its feed-in price: no trade can cost it more than the grid.
            limits = HouseholdLimits(
                max_buy_price=self.terms.ceiling,
                min_sell_price=self.terms.floor,
                max_import_w=12_000,
                max_export_w=9_000,
                tariff=spec.tariff,
            )
            node.set_tariff(spec.tariff)
            node.set_observation_source(observation_source(spec, self.terms.slot_s))
            node.add_agent(ConsumptionBuyerAgent(LOAD_AGENT, self.terms, limits))
            if spec.pv is not None:
                node.add_agent(PvSellerAgent("pv", self.terms, limits))
            battery = HomeBattery(spec.battery) if spec.battery else None
            self.homes.append(SimHousehold(spec, node, limits, battery))
        self.homes[0].node.ledger.add_listener(self._count_bytes)
        for home in self.homes:
            await home.node.start()
        rng = random.Random(self.config.seed)  # noqa: S311 - a topology, not a secret
        addresses = [home.node.address for home in self.homes if home.node.address]
        for index, home in enumerate(self.homes):
            # a ring keeps the graph connected; random chords keep it shallow
            others = [a for a in addresses if a != home.node.address]
            ring = addresses[(index + 1) % len(addresses)]
            chosen = {ring, *rng.sample(others, min(SIM_PEERS - 1, len(others)))}
            for address in sorted(chosen):
                if address != home.node.address:
                    home.node.add_peer(address)

    def _household_of(self, author: bytes) -> str:
        return self._author_of.get(author) or f"ext-{author.hex()[:8]}"

    def _count_bytes(self, entries: Sequence[Entry], _origin: Origin | None) -> None:
        self._ledger_bytes += sum(len(entry.raw) for entry in entries)

    async def close(self) -> None:
        """Stop every node."""
        for home in self.homes:
            with contextlib.suppress(Exception):
                await home.node.stop()

    # ------------------------------------------------------------------ driving

    def _update_ev_agents(self, now_s: int) -> None:
        for home in self.homes:
            if home.spec.ev is None:
                continue
            session = home.spec.ev_session_at(now_s)
            for arrival, agent_id in list(home.ev_agents.items()):
                agent = home.node.agent(agent_id)
                departed = session is None or session.arrival != arrival
                if departed and agent is not None:
                    home.node.remove_agent(agent_id)
                if departed:
                    del home.ev_agents[arrival]
                    _bank_top_up(home, arrival, agent)
            if session is not None and session.arrival not in home.ev_agents:
                agent_id = f"ev{session.arrival}"
                session_terms = session.to_agent_session(
                    home.limits.max_buy_price, banked_wh=home.ev_banked_wh
                )
                used = min(home.ev_banked_wh, session.energy_wh)
                home.ev_banked_wh -= used
                home.ev_required[session.arrival] = session.energy_wh - used
                home.node.add_agent(
                    EvChargingAgent(agent_id, self.terms, home.limits, session_terms)
                )
                home.ev_agents[session.arrival] = agent_id

    def _record_ev_plans(self, slot: int) -> None:
        plans: dict[str, int] = {}
        for home in self.homes:
            for agent_id in home.ev_agents.values():
                agent = home.node.agent(agent_id)
                schedule = agent.schedule if isinstance(agent, EvChargingAgent) else None
                entry = None if schedule is None else schedule.entry(slot)
                if entry is not None:
                    plans[home.spec.id] = plans.get(home.spec.id, 0) + entry.energy_wh
        self._ev_wh[slot] = plans

    async def _step_to(self, t_s: int) -> None:
        if self.manual is None:
            await self.clock.sleep_until(t_s * 1000)
            return
        await step_to(self.manual, [home.node for home in self.homes], t_s * 1000)

    async def run(self, progress: Callable[[int, int], None] | None = None) -> Report:
        """Simulate every slot of the configured period; returns the report.

        The nodes start one slot before the first reported slot, so that its orders
        are placed before its gate closure and every node seals it. The clock stops at
        every slot start (outcomes, agents re-plan, the previous slot is settled) and
        at the next slot's seal instant (agents re-price after its gate, nodes seal).
        """
        slot_s = self.terms.slot_s
        first = self.config.start_s
        end = first + self.config.duration_s
        total = (end - first) // slot_s
        for index, slot in enumerate(range(first - slot_s, end, slot_s)):
            await self._step_to(slot)
            # the slot starts: it is decided; EVs plug in or leave; the agents re-plan;
            # the meters close the slot before, which the nodes then settle and seal
            self._update_ev_agents(slot)
            if slot >= first:
                self._read_meters(slot - slot_s if slot > first else None, slot)
            self._record_ev_plans(slot)
            if slot > first:
                await self._step_to(self.terms.settle_time(slot - slot_s))
                await self._report_slot(slot - slot_s)
            await self._step_to(self.terms.seal_time(slot + slot_s))
            if progress is not None and index:
                progress(index, total)
        await self._step_to(end)
        self._read_meters(end - slot_s, end)
        await self._step_to(self.terms.settle_time(end - slot_s))
        await self._report_slot(end - slot_s)
        if progress is not None:
            progress(total, total)
        return self.report

    # ------------------------------------------------------------------ settlement

    def _read_meters(self, slot: int | None, at_s: int) -> None:
        """Meter `slot` (None: the run starts, nothing to meter yet) and hand every node
        its meter's indexes at `at_s`, the slot's end, as a Linky would."""
        ev_plan = self._ev_wh.pop(slot, {}) if slot is not None else {}
        usage: dict[str, HouseholdUsage] = {}
        for home in self.homes:
            spec = home.spec
            if slot is not None:
                energy = spec.slot_energy(slot, self.terms.slot_s)
                ev_wh = ev_plan.get(spec.id, 0)
                load_wh = energy.load_wh + ev_wh
                step = (
                    home.battery.step(energy.pv_wh, load_wh, self.terms.slot_s)
                    if home.battery
                    else None
                )
                flows = meter_slot(energy.load_wh, energy.pv_wh, extra_load_wh=ev_wh, battery=step)
                home.import_index += flows.import_wh
                home.export_index += flows.export_wh
                usage[spec.id] = HouseholdUsage(
                    consumption_wh=load_wh, pv_wh=energy.pv_wh, ev_wh=ev_wh
                )
            home.node.record_meter_index(
                at_s, import_wh=home.import_index, export_wh=home.export_index
            )
        if slot is not None:
            self._usage[slot] = usage

    async def _report_slot(self, slot: int) -> None:
        """Add `slot` to the report as the nodes settled it (the first node's store: they
        agree), each household's residual at its own tariff."""
        node = self.homes[0].node
        settled_slots, _own = await node.settled_slots(slot, slot + self.terms.slot_s)
        settled = settled_slots[0] if settled_slots else None
        usage = self._usage.pop(slot)
        tariffs = {home.spec.id: home.spec.tariff for home in self.homes}
        settlements = []
        for row in () if settled is None else settled.rows:
            household = self._household_of(bytes.fromhex(row.household))
            tariff = tariffs.get(household, BASE_TARIFF)
            prices = GridPrices(tariff.buy_price(slot), tariff.sell_price(slot))
            settlements.append(dataclasses.replace(priced(row, prices), household=household))
            if household not in usage:
                # a member the simulation does not model (the demo's Home Assistant):
                # what its own meter signed
                usage[household] = HouseholdUsage(consumption_wh=row.import_wh, pv_wh=row.export_wh)
                self.report.labels.setdefault(household, "member outside the simulation")
        outcome = node.outcome(slot)
        result = None if outcome is None else outcome.result
        disputed = result is None or (settled is not None and not settled.verified)
        bought = {row.household: row.local_bought_wh for row in settlements}
        self.report.add_slot(
            slot,
            settlements=sorted(settlements, key=lambda row: row.household),
            usage=usage,
            price=None if result is None else result.price,
            disputed=disputed,
            ev_local_wh=self._ev_local(slot, result, bought, usage),
            ledger_bytes=self._ledger_bytes,
        )
        self._ledger_bytes = 0
        for callback in self.on_slot:
            callback(slot)

    def _ev_local(
        self,
        slot: int,
        result: ClearingResult | None,
        bought: dict[str, int],
        usage: dict[str, HouseholdUsage],
    ) -> dict[str, int]:
        """Each household's settled local purchase split between its car and its
        consumption buyer by their fills (`report.ev_local_wh`)."""
        filled: dict[str, int] = {}
        for fill in () if result is None else result.fills:
            if fill.side is Side.BUY:
                filled[fill.order_id] = filled.get(fill.order_id, 0) + fill.energy_wh
        out: dict[str, int] = {}
        for home in self.homes:
            household = home.spec.id
            if household not in bought or household not in usage:
                continue
            own = [o for o in home.node.order_book(slot) if o.own and o.side is Side.BUY]
            out[household] = ev_local_wh(
                ev_wh=usage[household].ev_wh,
                local_bought_wh=bought[household],
                ev_filled_wh=sum(filled.get(o.order_id, 0) for o in own if o.source != LOAD_AGENT),
                filled_wh=sum(filled.get(o.order_id, 0) for o in own),
            )
        return out


async def simulate(config: SimConfig, progress: Callable[[int, int], None] | None = None) -> Report:
    """Run a whole simulation and return its report."""
    neighbourhood = Neighbourhood(config)
    try:
        await neighbourhood.open()
        return await neighbourhood.run(progress)
    finally:
        await neighbourhood.close()
