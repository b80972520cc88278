"""The market node of a config entry, as Home Assistant sees it.

`MarketHub` owns the entry's `market.node.Node`: it opens and starts it with Home
Assistant's HTTP session and shared zeroconf responder, runs the household's agents
(from the entry's options), feeds them the meter's readings, turns the node's events
into Home Assistant events and repair issues, keeps the per-slot and per-day trade
totals the entities show, and tells the entities when something changed.

Quantities stay integers here (Wh, ticks, Wh x ticks); entities and events convert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components import network, zeroconf
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.util import dt as dt_util

from market import __version__ as engine_version
from market.agents import (
    EvChargingAgent,
    EvSession,
    FlexibleLoadBuyerAgent,
    HouseholdLimits,
    InvalidAgentInputError,
    LoadWindow,
    MarketTerms,
    Observation,
    PvSellerAgent,
    Reading,
)
from market.agents.ev_plan import EvSchedule
from market.ledger.errors import LedgerError
from market.meter.snapshot import MeterSnapshot
from market.node import Node, NodeConfig, NodeStatus
from market.node.agent_host import Agent
from market.node.clock import Clock, ScaledClock, SystemClock
from market.node.errors import NodeSetupError
from market.node.events import (
    AgentSchedule,
    EquivocationSeen,
    NodeEvent,
    OrderAccepted,
    OrderCancelled,
    PeerDown,
    PeerUp,
    SlotCleared,
    SlotDisputed,
)
from market.node.readings import reading_from_meter
from market.units import to_kwh, to_price

from .const import (
    CONF_EXPORT_POWER,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_IMPORT_POWER,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_METER_SOURCE,
    CONF_MIN_SELL_PRICE,
    CONF_NODE_NAME,
    CONF_PORT,
    CONF_SELL_SURPLUS,
    DEFAULT_FLEXIBLE_LOAD,
    DEFAULT_FLEXIBLE_LOAD_W,
    DEFAULT_MAX_EXPORT_W,
    DEFAULT_MAX_IMPORT_W,
    DEFAULT_SELL_SURPLUS,
    DOMAIN,
    ENV_SIM_CLOCK,
    METER_SOURCE_ENTITIES,
)
from .ev_schedule import ev_schedule_data, next_charging_slot
from .flow_helpers import entry_peers
from .issues import MarketIssues
from .meter import TicMeterHub
from .runtime import NODE_HOOKS, P2PEnergyConfigEntry
from .surplus import power_w
from .trades import DayTotals, Trade, slot_datetime

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

# The household's agents, by id (also the `source` of their orders and fills).
AGENT_SELL_SURPLUS: Final = "sell_surplus"
AGENT_FLEXIBLE_LOAD: Final = "flexible_load"
AGENT_EV: Final = "ev"
# The agents the options describe: their switch's option and its default.
AGENT_OPTIONS: Final = {
    AGENT_SELL_SURPLUS: CONF_SELL_SURPLUS,
    AGENT_FLEXIBLE_LOAD: CONF_FLEXIBLE_LOAD,
}
AGENT_DEFAULTS: Final = {
    AGENT_SELL_SURPLUS: DEFAULT_SELL_SURPLUS,
    AGENT_FLEXIBLE_LOAD: DEFAULT_FLEXIBLE_LOAD,
}

# The flexible load (a boiler, a pool pump) runs this long each day, bought between
# these local times: the hours with the most solar surplus to buy from neighbours.
FLEXIBLE_LOAD_HOURS: Final = 2
FLEXIBLE_LOAD_WINDOW: Final = (time(10, 0), time(16, 0))

STATUS_INTERVAL: Final = timedelta(seconds=30)
# Readings kept for the PV seller's persistence forecast (it averages the last 15 min).
_READINGS_KEPT: Final = 256
_READINGS_WINDOW_S: Final = 1800
# Trades of slots older than this are forgotten (today's totals keep their sums).
_TRADES_KEPT_S: Final = 2 * 86_400

type HubListener = Callable[[], None]


def household_limits(options: Mapping[str, Any], terms: MarketTerms) -> HouseholdLimits:
    """What the options allow the agents (the community's bounds by default)."""
    return HouseholdLimits(
        max_buy_price=int(options.get(CONF_MAX_BUY_PRICE, terms.ceiling)),
        min_sell_price=int(options.get(CONF_MIN_SELL_PRICE, terms.floor)),
        max_import_w=int(options.get(CONF_MAX_IMPORT_W, DEFAULT_MAX_IMPORT_W)),
        max_export_w=int(options.get(CONF_MAX_EXPORT_W, DEFAULT_MAX_EXPORT_W)),
    )


def node_clock() -> Clock:
    """The wall clock, or the accelerated demo clock of `ENV_SIM_CLOCK`."""
    if NODE_HOOKS.clock_factory is not None:
        return NODE_HOOKS.clock_factory()
    spec = os.environ.get(ENV_SIM_CLOCK)
    if not spec:
        return SystemClock()
    try:
        return ScaledClock.parse(spec)
    except ValueError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_sim_clock",
            translation_placeholders={"variable": ENV_SIM_CLOCK, "value": spec},
        ) from err


async def _advertised_host(hass: HomeAssistant) -> str | None:
    # The address Home Assistant itself uses on the LAN (Settings > Network), so that
    # invites and announcements carry the interface the user chose.
    try:
        return await network.async_get_source_ip(hass)
    except HomeAssistantError:
        return None


async def async_open_hub(
    hass: HomeAssistant, entry: P2PEnergyConfigEntry, data_dir: Path, meter: TicMeterHub | None
) -> MarketHub:
    """Open the entry's node (its ledger and key), not yet serving.

    Raises ConfigEntryError when the data directory cannot run a node.
    """
    clock = node_clock()
    aiozc: AsyncZeroconf = await zeroconf.async_get_async_instance(hass)
    config = NodeConfig(
        data_dir=data_dir,
        host=NODE_HOOKS.host,
        port=int(entry.data[CONF_PORT]),
        advertise_host=await _advertised_host(hass),
        peers=tuple(entry_peers(entry.data, entry.options)),
        name=entry.data[CONF_NODE_NAME],
    )
    if NODE_HOOKS.gossip is not None:
        config = replace(config, gossip=NODE_HOOKS.gossip)
    try:
        node = await Node.open(
            config, clock=clock, session=async_get_clientsession(hass), zeroconf=aiozc
        )
    except (NodeSetupError, LedgerError, OSError, ValueError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="node_unreadable",
            translation_placeholders={"path": str(data_dir), "error": str(err)},
        ) from err
    try:
        return MarketHub(hass, entry, node, meter)
    except InvalidAgentInputError as err:
        await node.stop()
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_options",
            translation_placeholders={"error": str(err)},
        ) from err


class MarketHub:
    """The running node of one config entry and what the entities show of it."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: P2PEnergyConfigEntry,
        node: Node,
        meter: TicMeterHub | None,
    ) -> None:
        """Wrap an opened node; `async_start` serves it."""
        self.hass = hass
        self.entry = entry
        self.node = node
        self.meter = meter
        self.terms = MarketTerms.of_community(node.terms)
        self.currency = node.terms.currency
        self.node_id = node.identity.public_key.hex()
        self.community_id = node.ledger.community_id.hex()
        self.status: NodeStatus | None = None
        self.status_at: datetime | None = None
        self.last_price: int | None = None
        self.last_cleared_slot: int | None = None
        self.schedules: dict[str, EvSchedule] = {}
        self.current_slot = self.terms.slot_of(self.now_s)
        self.today = DayTotals(self.day_start(self.current_slot))
        self.accepts_restore = True
        self.issues = MarketIssues(hass, entry, node.terms.seal_margin_s)
        self._trades: dict[int, Trade] = {}
        self._counted: set[int] = set()
        self._readings: deque[Reading] = deque(maxlen=_READINGS_KEPT)
        self._listeners: list[HubListener] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._slot_task: asyncio.Task[None] | None = None
        self._running = False
        self._notify_pending = False
        name = entry.data[CONF_NODE_NAME]
        self.node_device = DeviceInfo(
            identifiers={(DOMAIN, self.node_id)},
            name=name,
            manufacturer="P2P Energy Market",
            model="Household node",
            sw_version=engine_version,
        )
        self.community_device = DeviceInfo(
            identifiers={(DOMAIN, self.community_id)},
            name=node.community.name,
            manufacturer="P2P Energy Market",
            model="Energy community",
            entry_type=DeviceEntryType.SERVICE,
        )
        self.limits = household_limits(entry.options, self.terms)
        node.set_observation_source(self.observe)
        for agent_id, option in AGENT_OPTIONS.items():
            enabled = bool(entry.options.get(option, AGENT_DEFAULTS[agent_id]))
            node.add_agent(self._build_agent(agent_id), enabled=enabled)

    # ------------------------------------------------------------------ lifecycle

    @property
    def now_s(self) -> int:
        """The market's time (the node's clock), Unix seconds."""
        return self.node.clock.now_ms() // 1000

    async def async_start(self) -> None:
        """Serve gossip, announce, and follow the node. Raises ConfigEntryNotReady."""
        self._unsubscribe.append(self.node.subscribe(self._on_event))
        try:
            await self.node.start()
        except OSError as err:
            await self.async_stop()
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="port_unavailable",
                translation_placeholders={
                    "port": str(self.entry.data[CONF_PORT]),
                    "error": str(err),
                },
            ) from err
        self._running = True
        self._follow_readings()
        self._unsubscribe.append(
            async_track_time_interval(
                self.hass,
                self._async_refresh_on_interval,
                STATUS_INTERVAL,
                name=f"{DOMAIN} node status",
                cancel_on_shutdown=True,
            )
        )
        self._slot_task = self.entry.async_create_background_task(
            self.hass, self._run_slot_clock(), f"{DOMAIN} slot clock"
        )
        await self.async_refresh_status()
        _LOGGER.debug("node %s serving at %s", self.node_id[:16], self.node.address)

    async def async_stop(self) -> None:
        """Stop the node: tasks, sockets, zeroconf, then the ledger. Idempotent."""
        self._running = False
        while self._unsubscribe:
            self._unsubscribe.pop()()
        if self._slot_task is not None:
            self._slot_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._slot_task
            self._slot_task = None
        await self.node.stop()
        self.issues.clear_transient()

    @callback
    def async_add_listener(self, listener: HubListener) -> CALLBACK_TYPE:
        """Call `listener` whenever what the entities show changed."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    @callback
    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # ------------------------------------------------------------------ status

    async def _async_refresh_on_interval(self, _now: datetime) -> None:
        await self.async_refresh_status()

    async def async_refresh_status(self) -> None:
        """Read the node's status (peers, ledger, sync, clock skew) and check issues."""
        if not self._running:
            return
        self._sample_entities()
        self.status = self.node.status()
        self.status_at = dt_util.utcnow()
        self.issues.check_status(self.status, self.status_at)
        self._notify()

    @property
    def last_sync(self) -> datetime | None:
        """When a peer last answered this node."""
        status = self.status
        if status is None or status.last_sync_s_ago is None or self.status_at is None:
            return None
        return (self.status_at - timedelta(seconds=status.last_sync_s_ago)).replace(microsecond=0)

    # ------------------------------------------------------------------ slots and totals

    def day_start(self, t_s: int) -> datetime:
        """Local midnight of the day holding `t_s` (Home Assistant's time zone)."""
        return dt_util.start_of_local_day(dt_util.as_local(slot_datetime(t_s)))

    @property
    def current_trade(self) -> Trade:
        """What the household trades in the slot being delivered now."""
        return self._trades.get(self.current_slot) or Trade()

    async def _run_slot_clock(self) -> None:
        clock = self.node.clock
        while True:
            await clock.sleep_until((self.current_slot + self.terms.slot_s) * 1000)
            self._enter_slot(self.terms.slot_of(self.now_s))

    @callback
    def _enter_slot(self, slot: int) -> None:
        self.current_slot = slot
        day = self.day_start(slot)
        if day != self.today.start:
            self.today = DayTotals(day)
            self._add_tomorrows_window()
        horizon = slot - _TRADES_KEPT_S
        for old in [s for s in self._trades if s < horizon]:
            del self._trades[old]
            self._counted.discard(old)
        self._count_started()
        self._notify()

    def _count_started(self) -> None:
        for slot, trade in self._trades.items():
            if slot in self._counted or slot > self.current_slot:
                continue
            if self.day_start(slot) == self.today.start:
                self.today.add(trade)
            self._counted.add(slot)

    @callback
    def restore_today(self, key: str, day: datetime, value: int) -> None:
        """Add a total recorded before a restart, if it is today's (once, at start-up)."""
        if self.accepts_restore and day == self.today.start:
            self.today.values[key] += value

    # ------------------------------------------------------------------ node events

    @callback
    def _on_event(self, event: NodeEvent) -> None:
        if isinstance(event, SlotCleared):
            self._on_cleared(event)
        elif isinstance(event, SlotDisputed):
            self._fire(
                "slot_disputed",
                {
                    "slot_start": slot_datetime(event.slot).isoformat(),
                    "slot_end": slot_datetime(event.slot + self.terms.slot_s).isoformat(),
                    "reason": event.reason,
                },
            )
        elif isinstance(event, AgentSchedule):
            self._on_schedule(event)
        elif isinstance(event, PeerUp | PeerDown):
            self.entry.async_create_background_task(
                self.hass, self.async_refresh_status(), f"{DOMAIN} node status"
            )
        elif isinstance(event, EquivocationSeen):
            self.issues.equivocation(event.node_id, event.seq)
        elif not isinstance(event, OrderAccepted | OrderCancelled):
            return  # a rejected order changes nothing shown
        self._notify_soon()

    @callback
    def _notify_soon(self) -> None:
        # Once the node has finished what it is doing: an agent's order is attributed
        # to the agent just after the order is accepted, and events come in bursts.
        if not self._notify_pending:
            self._notify_pending = True
            self.hass.loop.call_soon(self._notify_now)

    @callback
    def _notify_now(self) -> None:
        self._notify_pending = False
        self._notify()

    def _on_cleared(self, event: SlotCleared) -> None:
        trade = Trade.of(event.fills)
        if event.fills:
            self._trades[event.slot] = trade
            if event.slot <= self.current_slot:
                self._count_started()
        if event.price is not None and event.slot >= (self.last_cleared_slot or 0):
            self.last_price = event.price
            self.last_cleared_slot = event.slot
        self._fire(
            "slot_cleared",
            {
                "node_id": self.node_id,
                "slot_start": slot_datetime(event.slot).isoformat(),
                "slot_end": slot_datetime(event.slot + self.terms.slot_s).isoformat(),
                "price": None if event.price is None else to_price(event.price),
                "price_ticks": event.price,
                "currency": self.currency,
                "volume_wh": event.volume_wh,
                "bought_kwh": to_kwh(trade.bought_wh),
                "sold_kwh": to_kwh(trade.sold_wh),
                "bought_wh": trade.bought_wh,
                "sold_wh": trade.sold_wh,
                "fills": [
                    {
                        "order_id": fill.order_id,
                        "side": str(fill.side),
                        "energy_wh": fill.energy_wh,
                        "price_ticks": fill.price,
                        "source": fill.source,
                    }
                    for fill in event.fills
                ],
                "late": event.late,
            },
        )

    def _on_schedule(self, event: AgentSchedule) -> None:
        self.schedules[event.agent_id] = event.schedule
        data = ev_schedule_data(event.schedule, self.terms.slot_s)
        self._fire("ev_schedule", {"agent_id": event.agent_id, **data})

    def _fire(self, name: str, data: dict[str, Any]) -> None:
        self.hass.bus.async_fire(
            f"{DOMAIN}_{name}", {"config_entry_id": self.entry.entry_id, **data}
        )

    def next_charging_slot(self, agent_id: str = AGENT_EV) -> datetime | None:
        """Start of the next (or current) slot the EV charges in."""
        return next_charging_slot(self.schedules.get(agent_id), self.current_slot)

    # ------------------------------------------------------------------ readings

    def observe(self, now_s: int) -> Observation:
        """The agents' view of the household: the recent meter readings."""
        since = now_s - _READINGS_WINDOW_S
        return Observation(readings=tuple(r for r in self._readings if since <= r.at <= now_s))

    def _add_reading(self, export_w: float, import_w: float) -> None:
        self._readings.append(
            Reading(
                at=self.now_s, export_w=max(0, round(export_w)), import_w=max(0, round(import_w))
            )
        )

    def _follow_readings(self) -> None:
        if self.meter is not None:
            self._unsubscribe.append(self.meter.async_add_listener(self._on_snapshot))
        elif self.entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_ENTITIES:
            sources = [
                entity
                for key in (CONF_IMPORT_POWER, CONF_EXPORT_POWER)
                if (entity := self.entry.data.get(key))
            ]
            if sources:
                self._unsubscribe.append(
                    async_track_state_change_event(self.hass, sources, self._on_power_change)
                )

    @callback
    def _on_snapshot(self, snapshot: MeterSnapshot) -> None:
        reading = reading_from_meter(snapshot, self.now_s)
        if reading is not None:
            self._readings.append(reading)

    @callback
    def _on_power_change(self, _event: Event[EventStateChangedData]) -> None:
        self._sample_entities()

    def _sample_entities(self) -> None:
        if self.entry.data.get(CONF_METER_SOURCE) != METER_SOURCE_ENTITIES:
            return
        import_id: str | None = self.entry.data.get(CONF_IMPORT_POWER)
        if import_id is None:
            return
        imported = power_w(self.hass, import_id)
        exported = power_w(self.hass, self.entry.data.get(CONF_EXPORT_POWER))
        if imported is not None and exported is not None:
            self._add_reading(exported, imported)

    # ------------------------------------------------------------------ agents

    def _build_agent(self, agent_id: str) -> Agent:
        if agent_id == AGENT_SELL_SURPLUS:
            return PvSellerAgent(agent_id, self.terms, self.limits)
        power = int(self.entry.options.get(CONF_FLEXIBLE_LOAD_W, DEFAULT_FLEXIBLE_LOAD_W))
        today = self.today.start
        return FlexibleLoadBuyerAgent(
            agent_id,
            self.terms,
            self.limits,
            power_w=power,
            max_price=self.limits.max_buy_price,
            windows=[self._load_window(today), self._load_window(today + timedelta(days=1))],
        )

    def _load_window(self, day: datetime) -> LoadWindow:
        power = int(self.entry.options.get(CONF_FLEXIBLE_LOAD_W, DEFAULT_FLEXIBLE_LOAD_W))
        first, last = FLEXIBLE_LOAD_WINDOW
        tz = dt_util.get_default_time_zone()
        return LoadWindow(
            start=int(datetime.combine(day.date(), first, tz).timestamp()),
            end=int(datetime.combine(day.date(), last, tz).timestamp()),
            energy_wh=power * FLEXIBLE_LOAD_HOURS,
        )

    def _add_tomorrows_window(self) -> None:
        agent = self.node.agent(AGENT_FLEXIBLE_LOAD)
        if isinstance(agent, FlexibleLoadBuyerAgent):
            window = self._load_window(self.today.start + timedelta(days=1))
            if window not in agent.windows:
                agent.add_window(window)

    def agent_enabled(self, agent_id: str) -> bool:
        """Whether an agent trades for the household."""
        return self.node.agent_enabled(agent_id)

    async def async_set_agent_enabled(self, agent_id: str, enabled: bool) -> None:
        """Let an agent trade, or take it and its open orders off the market."""
        if self.agent_enabled(agent_id) == enabled:
            return
        if enabled:
            # A fresh agent: the orders of its previous run were cancelled.
            self.node.add_agent(self._build_agent(agent_id))
            await self.node.run_agents_now()
        else:
            self.node.set_agent_enabled(agent_id, False)
            await self.node.withdraw_orders(agent_id)
        self._notify()

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
        self._notify()

    async def async_stop_ev_session(self) -> None:
        """Stop charging: cancel the EV agent's open orders and remove it."""
        if self.node.remove_agent(AGENT_EV) is None:
            return
        await self.node.withdraw_orders(AGENT_EV)
        self.schedules.pop(AGENT_EV, None)
        self._notify()

    # ------------------------------------------------------------------ diagnostics

    def as_dict(self) -> dict[str, Any]:
        """What the diagnostics download shows of the hub."""
        return {
            "current_slot": self.current_slot,
            "today": {"start": self.today.start.isoformat(), **self.today.values},
            "last_price": self.last_price,
            "last_cleared_slot": self.last_cleared_slot,
            "agents": {
                agent_id: self.agent_enabled(agent_id) for agent_id in self.node.agent_ids()
            },
            "open_orders": len(self.node.open_orders()),
            "schedules": {
                agent_id: schedule.to_json_obj() for agent_id, schedule in self.schedules.items()
            },
            "readings": len(self._readings),
        }
