"""The node's API for the household's agents (see market.agents), a part of `Node`.

Kept apart from node.py so that the node's lifecycle and the hosts' agent controls each
stay readable; it is a mixin of `Node` only, and reads the node's parts below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..model import Side
from .agent_host import Agent, AgentHost, ObservationSource
from .events import AgentSchedule, NodeEvent
from .orders import API_SOURCE

if TYPE_CHECKING:
    from ..ledger.identity import Identity
    from .catchup import CatchUp
    from .clock import Clock
    from .faults import NodeFaults
    from .index import MarketIndex
    from .orders import OrderDesk
    from .prices import PriceHistory


class AgentControls:
    """Hosting, pausing and running the household's agents."""

    # The node's parts this mixin uses (set by Node.__init__).
    _agents: AgentHost
    _observe: ObservationSource
    _prices: PriceHistory
    faults: NodeFaults
    _orders: OrderDesk
    _catchup: CatchUp
    _emit: Callable[[NodeEvent], None]
    clock: Clock
    index: MarketIndex
    identity: Identity

    def add_agent(self, agent: Agent, *, enabled: bool = True) -> None:
        """Let an agent trade for this household (see market.agents), replacing one
        with the same id; the replaced agent's orders stay until withdrawn."""
        if agent.agent_id == API_SOURCE:
            raise ValueError("agent id 'api' is reserved for orders placed by the host")
        self._agents.add(agent, enabled=enabled)

    def agent(self, agent_id: str) -> Agent | None:
        """A hosted agent by id."""
        return self._agents.get(agent_id)

    def agent_ids(self) -> list[str]:
        """Ids of the hosted agents."""
        return self._agents.ids()

    def agent_enabled(self, agent_id: str) -> bool:
        """Whether the agent is hosted and runs."""
        return self._agents.is_enabled(agent_id)

    def set_agent_enabled(self, agent_id: str, enabled: bool) -> None:
        """Pause or resume an agent (a paused agent places nothing new)."""
        self._agents.set_enabled(agent_id, enabled)

    def remove_agent(self, agent_id: str) -> Agent | None:
        """Stop hosting an agent; its orders stay on the book until withdrawn."""
        return self._agents.remove(agent_id)

    async def run_agents_now(self) -> None:
        """Let the agents decide at once (after a new reading or a changed session)."""
        await self._run_agents(self.clock.now_ms())

    async def _run_agents(self, now: int) -> None:
        if not self._agents.ids() or not self.index.is_member(self.identity.public_key):
            return
        if not self._catchup.allows("agent_runs_skipped"):  # counted: the chain is not ours yet
            return
        now_s = now // 1000
        try:
            observation = self._observe(now_s)
        except Exception as err:  # a failing meter must not stop trading decisions for good
            self.faults.observing.failed(err)
            return
        self.faults.observing.recovered()
        if not observation.expected_prices:  # the host's own expectations win
            observation = replace(observation, expected_prices=self._prices.expected(now_s))
        await self._orders.apply(self._agents.decide(now_s, observation))
        await self._prices.save()
        for agent_id, schedule in self._agents.schedule_changes():
            self._emit(AgentSchedule(agent_id, schedule))

    def _steered_wh(self, own_fills: dict[bytes, int]) -> int:
        """What the household's steered loads bought: its filled bids but the consumption
        buyer's (a host's own orders, "api", buy for a load it drives: a car, a boiler)."""
        total = 0
        for order_hash, energy_wh in own_fills.items():
            order = self.index.get_order(order_hash)
            if order is None or order.side is not Side.BUY:
                continue
            if not self._agents.buys_forecast_demand(self._orders.own.source_of(order_hash)):
                total += energy_wh
        return total
