"""Runs a household's agents inside a node: feeds them readings and results.

Which order entry carries which intent is the node's order desk's to know
(market.node.orders); the node hands each agent its fills by intent id."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from ..agents import AgentDecision, Observation, SlotResult
from ..agents.ev_plan import EvSchedule
from ..supervise import FaultLog

ObservationSource = Callable[[int], Observation]


@runtime_checkable
class PublishesSchedule(Protocol):
    """An agent with a plan the household follows (the EV session's charging slots)."""

    @property
    def schedule(self) -> EvSchedule | None:
        """The plan of its last run, None before the first."""
        ...


@runtime_checkable
class BuysForecastDemand(Protocol):
    """An agent that buys the household's forecast import (the consumption buyer): its
    fills are the demand the forecast learns, not a steered load's purchase."""

    @property
    def buys_forecast_demand(self) -> bool:
        """True: what it buys is the household's own expected import."""
        ...


class Agent(Protocol):
    """What the node needs of an agent (see market.agents)."""

    @property
    def agent_id(self) -> str:
        """Unique among the node's agents; the prefix of its intent ids."""
        ...

    def decide(
        self, now: int, observation: Observation, cleared: Iterable[SlotResult]
    ) -> AgentDecision:
        """Orders to place and cancel at `now`."""
        ...


@dataclass(slots=True)
class _Hosted:
    agent: Agent
    faults: FaultLog
    enabled: bool = True
    results: list[SlotResult] = field(default_factory=list)
    last_schedule: EvSchedule | None = None


class AgentHost:
    """The node's agents and the slot results waiting for their next run."""

    def __init__(self, stats: MutableMapping[str, int]) -> None:
        """Failing runs of the agents are counted in `stats` (`agent_faults`)."""
        self._agents: dict[str, _Hosted] = {}
        self._stats = stats

    def add(self, agent: Agent, *, enabled: bool = True) -> None:
        """Host `agent` (replacing one with the same id)."""
        faults = FaultLog(f"agent {agent.agent_id}", self._stats, "agent_faults")
        self._agents[agent.agent_id] = _Hosted(agent, faults, enabled)

    def fault_logs(self) -> list[FaultLog]:
        """One per hosted agent: whether its last run failed."""
        return [hosted.faults for hosted in self._agents.values()]

    def remove(self, agent_id: str) -> Agent | None:
        """Stop hosting an agent; its orders stay on the book until cancelled."""
        hosted = self._agents.pop(agent_id, None)
        return None if hosted is None else hosted.agent

    def get(self, agent_id: str) -> Agent | None:
        """A hosted agent by id."""
        hosted = self._agents.get(agent_id)
        return None if hosted is None else hosted.agent

    def ids(self) -> list[str]:
        """Ids of the hosted agents."""
        return list(self._agents)

    def buys_forecast_demand(self, agent_id: str) -> bool:
        """Whether the agent (an order's source) buys the household's forecast import."""
        hosted = self._agents.get(agent_id)
        if hosted is None or not isinstance(hosted.agent, BuysForecastDemand):
            return False
        return hosted.agent.buys_forecast_demand

    def set_enabled(self, agent_id: str, enabled: bool) -> None:
        """Pause or resume an agent (a paused agent places nothing new)."""
        hosted = self._agents.get(agent_id)
        if hosted is not None:
            hosted.enabled = enabled

    def is_enabled(self, agent_id: str) -> bool:
        """Whether the agent runs."""
        hosted = self._agents.get(agent_id)
        return hosted is not None and hosted.enabled

    def deliver(
        self,
        slot: int,
        fills: Mapping[str, Mapping[str, int]],
        price: int | None,
        *,
        late: bool = False,
    ) -> None:
        """Hand a slot's outcome to every agent as a `SlotResult`: `fills` holds, per
        agent id, the Wh filled per intent id (nothing when the slot is disputed);
        `late` when it is the community's result reached after a dispute or an absence."""
        for agent_id, hosted in self._agents.items():
            own = dict(fills.get(agent_id, {}))
            hosted.results.append(SlotResult(slot=slot, fills=own, price=price, late=late))

    def decide(self, now_s: int, observation: Observation) -> list[tuple[str, AgentDecision]]:
        """Run every enabled agent once; results delivered since its last run go with it."""
        decisions: list[tuple[str, AgentDecision]] = []
        for agent_id, hosted in self._agents.items():
            results, hosted.results = hosted.results, []
            if not hosted.enabled:
                continue
            try:
                decision = hosted.agent.decide(now_s, observation, results)
            except Exception as err:  # one faulty agent must not stop the node or the others
                hosted.faults.failed(err)
                continue
            hosted.faults.recovered()
            decisions.append((agent_id, decision))
        return decisions

    def schedule_changes(self) -> list[tuple[str, EvSchedule]]:
        """Agents (EV sessions) whose published schedule changed since last asked."""
        changed: list[tuple[str, EvSchedule]] = []
        for agent_id, hosted in self._agents.items():
            if not isinstance(hosted.agent, PublishesSchedule):
                continue
            schedule = hosted.agent.schedule
            if schedule is None:
                continue
            # "now" changes on every run; only a changed plan is news
            last = hosted.last_schedule
            if last is None or replace(last, now=schedule.now) != schedule:
                hosted.last_schedule = schedule
                changed.append((agent_id, schedule))
        return changed
