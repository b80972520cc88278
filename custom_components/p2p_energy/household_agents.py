"""The household's agents on its node: built from the entry's options, switched on and
off, and the EV charging session; and the household's tariff, which bounds the agents'
prices and prices the node's statements (`Node.set_tariff`).

Agents are reached through the node's public API only (`add_agent`, `agent`,
`agent_enabled`, `set_agent_enabled`, `remove_agent`, `withdraw_orders`,
`run_agents_now`); each agent's id is also the `source` of its orders and fills.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any, Final

from homeassistant.util import dt as dt_util

from market.agents import (
    ConsumptionBuyerAgent,
    EvChargingAgent,
    EvSession,
    FlexibleLoadBuyerAgent,
    HouseholdLimits,
    LoadWindow,
    PvSellerAgent,
)
from market.agents.ev_plan import EvSchedule
from market.localtime import PARIS, DailyWindow
from market.node import Node
from market.node.agent_host import Agent
from market.tariff import TARIFF_PRESETS, Tariff, tariff_of_contract
from market.terms import CommunityTerms

from .const import (
    CONF_BUY_CONSUMPTION,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_MIN_SELL_PRICE,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_SELL_SURPLUS,
    CONF_TARIFF,
    DEFAULT_BUY_CONSUMPTION,
    DEFAULT_FLEXIBLE_LOAD,
    DEFAULT_FLEXIBLE_LOAD_W,
    DEFAULT_MAX_EXPORT_W,
    DEFAULT_MAX_IMPORT_W,
    DEFAULT_SELL_SURPLUS,
    TARIFF_AUTO,
)
from .ev_schedule import next_charging_slot

# The household's agents, by id (also the `source` of their orders and fills).
AGENT_SELL_SURPLUS: Final = "sell_surplus"
AGENT_FLEXIBLE_LOAD: Final = "flexible_load"
AGENT_BUY_CONSUMPTION: Final = "buy_consumption"
AGENT_EV: Final = "ev"
# The agents the options describe: their switch's option and its default.
AGENT_OPTIONS: Final = {
    AGENT_SELL_SURPLUS: CONF_SELL_SURPLUS,
    AGENT_FLEXIBLE_LOAD: CONF_FLEXIBLE_LOAD,
    AGENT_BUY_CONSUMPTION: CONF_BUY_CONSUMPTION,
}
AGENT_DEFAULTS: Final = {
    AGENT_SELL_SURPLUS: DEFAULT_SELL_SURPLUS,
    AGENT_FLEXIBLE_LOAD: DEFAULT_FLEXIBLE_LOAD,
    AGENT_BUY_CONSUMPTION: DEFAULT_BUY_CONSUMPTION,
}

# The flexible load (a boiler, a pool pump) runs this long each day, bought between
# these local times: the hours with the most solar surplus to buy from neighbours.
FLEXIBLE_LOAD_HOURS: Final = 2
FLEXIBLE_LOAD_WINDOW: Final = (time(10, 0), time(16, 0))


def household_tariff(options: Mapping[str, Any], contract: str | None) -> Tariff | None:
    """The contract the options name, or for "auto" the one the meter names (`contract`:
    its OPTARIF or NGTF); None when neither is known: the community's bounds alone."""
    choice = options.get(CONF_TARIFF, TARIFF_AUTO)
    preset = TARIFF_PRESETS.get(choice)
    return preset if preset is not None else tariff_of_contract(contract)


# The options the running agents take without a reload: their switches, their prices
# and the quiet hours (the `set_limits` action changes the last three at run time).
LIMIT_OPTIONS: Final = (CONF_MAX_BUY_PRICE, CONF_MIN_SELL_PRICE, CONF_QUIET_START, CONF_QUIET_END)


def minute_of_day(value: str) -> int | None:
    """Minutes after midnight of an "HH:MM[:SS]" time (seconds dropped), None if invalid."""
    parsed = dt_util.parse_time(value)
    return None if parsed is None else parsed.hour * 60 + parsed.minute


def quiet_window(options: Mapping[str, Any]) -> DailyWindow | None:
    """The quiet hours the options hold, None when they hold none (or only one end)."""
    start, end = options.get(CONF_QUIET_START), options.get(CONF_QUIET_END)
    if not start or not end:
        return None
    first, last = minute_of_day(str(start)), minute_of_day(str(end))
    if first is None or last is None:
        return None
    return first, last


def household_limits(
    options: Mapping[str, Any],
    terms: CommunityTerms,
    contract: str | None = None,
    zone: str = PARIS,
) -> HouseholdLimits:
    """What the options allow the agents (the community's bounds by default), within the
    household's own grid prices, out of its quiet hours (on the clock of `zone`).

    Raises market.agents.InvalidAgentInputError for values the agents refuse (quiet
    hours that start as they end).
    """
    window = quiet_window(options)
    return HouseholdLimits(
        max_buy_price=int(options.get(CONF_MAX_BUY_PRICE, terms.ceiling)),
        min_sell_price=int(options.get(CONF_MIN_SELL_PRICE, terms.floor)),
        max_import_w=int(options.get(CONF_MAX_IMPORT_W, DEFAULT_MAX_IMPORT_W)),
        max_export_w=int(options.get(CONF_MAX_EXPORT_W, DEFAULT_MAX_EXPORT_W)),
        tariff=household_tariff(options, contract),
        quiet=() if window is None else (window,),
        timezone=zone,
    )


class HouseholdAgents:
    """The agents trading for one household, and the plans they published."""

    def __init__(
        self,
        node: Node,
        terms: CommunityTerms,
        options: Mapping[str, Any],
        today: datetime,
        changed: Callable[[], None],
    ) -> None:
        """Add the agents the options describe (switched as the options say) to `node`.

        `today` is the local midnight of the current day (the flexible load's first
        window); `changed` is called when what the entities show of the agents changed.
        The node's statements take the same tariff as the agents.
        Raises market.agents.InvalidAgentInputError for options the agents refuse.
        """
        self.node = node
        self.terms = terms
        self._options = options
        # the quiet hours are typed on the household's clock
        self._zone = str(dt_util.get_default_time_zone())
        self.limits = household_limits(options, terms, zone=self._zone)
        node.set_tariff(self.limits.tariff)
        self.schedules: dict[str, EvSchedule] = {}
        self._load_w = int(options.get(CONF_FLEXIBLE_LOAD_W, DEFAULT_FLEXIBLE_LOAD_W))
        self._today = today
        self._changed = changed
        for agent_id, option in AGENT_OPTIONS.items():
            enabled = bool(options.get(option, AGENT_DEFAULTS[agent_id]))
            node.add_agent(self._build(agent_id), enabled=enabled)

    def set_meter_contract(self, contract: str | None) -> None:
        """The meter named its contract: with the "auto" option, the agents take its
        prices from their next run on, and the node's statements from now on."""
        tariff = household_tariff(self._options, contract)
        if contract is None or tariff == self.limits.tariff:
            return
        self.node.set_tariff(tariff)
        self._set_limits(replace(self.limits, tariff=tariff))

    async def async_set_limits(self, options: Mapping[str, Any]) -> bool:
        """Work within the prices and quiet hours of `options` (the entry's, changed by
        the options flow or the `set_limits` action): every agent re-prices its open
        orders, and cancels those in quiet hours, at once. False when nothing changed.

        Raises market.agents.InvalidAgentInputError for values the agents refuse.
        """
        self._options = options
        # the contract stays: a changed tariff option reloads the entry
        limits = replace(
            household_limits(options, self.terms, zone=self._zone), tariff=self.limits.tariff
        )
        if limits == self.limits:
            return False
        self._set_limits(limits)
        await self.node.run_agents_now()
        self._changed()
        return True

    def _set_limits(self, limits: HouseholdLimits) -> None:
        """The agents' next runs, and the agents built from now on, take `limits`."""
        self.limits = limits
        for agent_id in self.node.agent_ids():
            agent = self.node.agent(agent_id)
            if isinstance(
                agent,
                (PvSellerAgent, FlexibleLoadBuyerAgent, EvChargingAgent, ConsumptionBuyerAgent),
            ):
                agent.set_limits(limits)

    def enabled(self, agent_id: str) -> bool:
        """Whether an agent trades for the household."""
        return self.node.agent_enabled(agent_id)

    def switches(self) -> dict[str, bool]:
        """Each hosted agent and whether it trades."""
        return {agent_id: self.enabled(agent_id) for agent_id in self.node.agent_ids()}

    def next_charging_slot(self, current_slot: int) -> datetime | None:
        """Start of the next (or current) slot the EV charges in."""
        return next_charging_slot(self.schedules.get(AGENT_EV), current_slot)

    def new_day(self, today: datetime) -> None:
        """A local day started (midnight `today`): the flexible load gets tomorrow's window."""
        self._today = today
        agent = self.node.agent(AGENT_FLEXIBLE_LOAD)
        if isinstance(agent, FlexibleLoadBuyerAgent):
            window = self._load_window(today + timedelta(days=1))
            if window not in agent.windows:
                agent.add_window(window)

    async def async_set_enabled(self, agent_id: str, enabled: bool) -> None:
        """Let an agent trade, or take it and its open orders off the market."""
        if self.enabled(agent_id) == enabled:
            return
        if enabled:
            # A fresh agent: the orders of its previous run were cancelled.
            self.node.add_agent(self._build(agent_id))
            await self.node.run_agents_now()
        else:
            self.node.set_agent_enabled(agent_id, False)
            await self.node.withdraw_orders(agent_id)
        self._changed()

    async def async_start_ev_session(self, session: EvSession) -> None:
        """Charge the car: a new EV agent (replacing a running session) plans at once.

        Raises market.agents.InvalidAgentInputError for a session the household's
        limits cannot charge.
        """
        agent = EvChargingAgent(AGENT_EV, self.terms, self.limits, session)
        if self.node.remove_agent(AGENT_EV) is not None:
            await self.node.withdraw_orders(AGENT_EV)
        self.schedules.pop(AGENT_EV, None)
        self.node.add_agent(agent)
        await self.node.run_agents_now()
        self._changed()

    async def async_stop_ev_session(self) -> None:
        """Stop charging: cancel the EV agent's open orders and remove it."""
        if self.node.remove_agent(AGENT_EV) is None:
            return
        await self.node.withdraw_orders(AGENT_EV)
        self.schedules.pop(AGENT_EV, None)
        self._changed()

    def _build(self, agent_id: str) -> Agent:
        if agent_id == AGENT_SELL_SURPLUS:
            return PvSellerAgent(agent_id, self.terms, self.limits)
        if agent_id == AGENT_BUY_CONSUMPTION:
            # bids the import the node expects from the household's own readings
            # (HouseholdReadings.observe), up to its own grid price of each slot
            return ConsumptionBuyerAgent(agent_id, self.terms, self.limits)
        return FlexibleLoadBuyerAgent(
            agent_id,
            self.terms,
            self.limits,
            power_w=self._load_w,
            # no price of its own: the household's limit (which set_limits may change)
            # caps its bids, as it caps every agent's
            max_price=self.terms.ceiling,
            windows=[
                self._load_window(self._today),
                self._load_window(self._today + timedelta(days=1)),
            ],
        )

    def _load_window(self, day: datetime) -> LoadWindow:
        first, last = FLEXIBLE_LOAD_WINDOW
        tz = dt_util.get_default_time_zone()
        return LoadWindow(
            start=int(datetime.combine(day.date(), first, tz).timestamp()),
            end=int(datetime.combine(day.date(), last, tz).timestamp()),
            energy_wh=self._load_w * FLEXIBLE_LOAD_HOURS,
        )
