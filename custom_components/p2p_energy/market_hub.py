"""The market node of a config entry, and the push coordinator of its entities.

`MarketHub` owns the entry's started `market.node.Node` and its parts: the household's
agents (`household_agents`), the meter readings they observe (`readings`), the trade
bookkeeping (`trades`), the settled slots and their statistics (`settlements`), the
node-event bridge (`hub_events`) and the repair issues (`issues`). It is a
`DataUpdateCoordinator` without an update interval, as WLED's websocket one: node
events, the slot clock and the 30 s status refresh push a new `MarketData` snapshot
with `async_set_updated_data`, and the entities read only that.
`node_setup.async_open_hub` builds it.

Quantities stay integers here (Wh, ticks, Wh x ticks); entities and events convert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from market import __version__ as engine_version
from market.agents.ev_plan import EvSchedule
from market.meter.snapshot import MeterSnapshot
from market.node import Node, NodeStatus
from market.node.errors import DataDirError
from market.node.events import AgentSchedule, NodeEvent
from market.node.views import BookOrder, SlotSurplus
from market.supervise import FaultLog, supervise

from .const import CONF_NODE_NAME, CONF_PORT, DOMAIN
from .ev_charger import EvSessions, charging_current
from .household_agents import AGENT_EV, HouseholdAgents
from .hub_events import HubEvents
from .issues import MarketIssues
from .meter import TicMeterHub
from .readings import HouseholdReadings
from .settlements import HouseholdSettlements, SettlementHealth
from .statements import Statements
from .trades import Trade, TradeBook

_LOGGER = logging.getLogger(__name__)

STATUS_INTERVAL: Final = timedelta(seconds=30)
# The coming slots the community surplus sensor shows (its attributes stay small).
SURPLUS_SLOTS: Final = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketData:
    """What the market's entities show: one snapshot of the hub per update."""

    status: NodeStatus | None
    # When a peer last answered this node.
    last_sync: datetime | None
    last_price: int | None
    current_slot: int
    current_trade: Trade
    today_start: datetime
    today: Mapping[str, int]
    open_orders: tuple[BookOrder, ...]
    ev_schedule: EvSchedule | None
    next_charging_slot: datetime | None
    # the current (A) the EV plan asks of the charger in the slot under way (0: off)
    ev_current_a: int
    # Each hosted agent and whether it trades (the switches).
    agents: Mapping[str, bool]
    slot_s: int
    # the household's problem slots of the last 24 h (None until first read)
    settlement: SettlementHealth | None = None
    # today's and this month's statements (None until first read)
    statements: Statements | None = None
    # the next open slots' books cleared now: the community's unsold asks, earliest first
    surplus: tuple[SlotSurplus, ...] = ()


def storage_not_ready(data_dir: Path, err: DataDirError) -> ConfigEntryNotReady:
    """The set-up error of a data directory the node cannot write (retried: the user
    may remount the disk or free it)."""
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="node_storage",
        translation_placeholders={"path": str(data_dir), "error": str(err)},
    )


class MarketHub(DataUpdateCoordinator[MarketData]):
    """The running node of one config entry and what the entities show of it."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        node: Node,
        meter: TicMeterHub | None,
    ) -> None:
        """Wrap an opened node; `async_start` serves it.

        Raises market.agents.InvalidAgentInputError for options the agents refuse.
        """
        name = entry.data[CONF_NODE_NAME]
        # No update interval: the node pushes (see `async_publish`).
        super().__init__(hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {name}")
        self.node = node
        self.meter = meter
        self.terms = node.terms
        self.currency = node.terms.currency
        self.node_id = node.identity.public_key.hex()
        self.community_id = node.ledger.community_id.hex()
        self.status: NodeStatus | None = None
        self.status_at: datetime | None = None
        self.trades = TradeBook(self.terms.slot_of(self.now_s))
        # Beyond the replay window the neighbours refuse the node's requests as stale;
        # beyond the seal margin its seals miss their slots.
        skew_limit_s = min(node.terms.seal_margin_s, int(node.config.gossip.replay_window_s))
        self.issues = MarketIssues(hass, entry, skew_limit_s)
        self.readings = HouseholdReadings(
            hass, entry, meter, node.clock, node, slot_s=node.terms.slot_s
        )
        node.set_observation_source(self.readings.observe)
        self.agents = HouseholdAgents(
            node, self.terms, entry.options, self.trades.today.start, self.async_publish
        )
        self.ev = EvSessions(hass, entry, self.agents, node.clock)
        self.settlements = HouseholdSettlements(
            hass, entry, node, self.issues, name=name, changed=self.async_publish_soon
        )
        self.events = HubEvents(
            hass,
            entry,
            node_id=self.node_id,
            currency=self.currency,
            slot_s=self.terms.slot_s,
            trades=self.trades,
            agents=self.agents,
            issues=self.issues,
            settlements=self.settlements,
            refresh_status=self.async_refresh_status,
            changed=self.async_publish_soon,
        )
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._slot_task: asyncio.Task[None] | None = None
        # The hub's own loop: its failures join the node's fault (the node_fault issue).
        self.counters: dict[str, int] = {}
        self._slot_faults = FaultLog("the slot totals", self.counters, "slot_clock_faults")
        self._running = False
        self._publish_pending = False
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

    # ------------------------------------------------------------------ lifecycle

    @property
    def now_s(self) -> int:
        """The market's time (the node's clock), Unix seconds."""
        return self.node.clock.now_ms() // 1000

    async def async_start(self) -> None:
        """Serve gossip, announce, and follow the node. Raises ConfigEntryNotReady."""
        self._unsubscribe.append(self.node.subscribe(self.events.on_event))
        try:
            await self.node.start()
        except DataDirError as err:
            await self.async_stop()
            raise storage_not_ready(self.node.data.path, err) from err
        except OSError as err:
            await self.async_stop()
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="port_unavailable",
                translation_placeholders={
                    "port": str(self.config_entry.data[CONF_PORT]),
                    "error": str(err),
                },
            ) from err
        self._running = True
        self._unsubscribe.append(self.node.subscribe(self._on_node_event))
        await self.ev.async_restore()
        self.readings.async_start()
        self.settlements.async_start()
        if self.meter is not None:
            self._unsubscribe.append(self.meter.async_add_listener(self._on_meter_snapshot))
        self._unsubscribe.append(
            async_track_time_interval(
                self.hass,
                self._async_refresh_on_interval,
                STATUS_INTERVAL,
                name=f"{DOMAIN} node status",
                cancel_on_shutdown=True,
            )
        )
        self._slot_task = self.config_entry.async_create_background_task(
            self.hass, supervise(self._run_slot_clock, self._slot_faults), f"{DOMAIN} slot clock"
        )
        self.async_refresh_status()
        _LOGGER.debug("node %s serving at %s", self.node_id[:16], self.node.address)

    @callback
    def _on_meter_snapshot(self, snapshot: MeterSnapshot) -> None:
        if snapshot.meter is not None:
            self.agents.set_meter_contract(snapshot.meter.tariff_option)

    @callback
    def _on_node_event(self, event: NodeEvent) -> None:
        if isinstance(event, AgentSchedule) and event.agent_id == AGENT_EV:
            self.ev.schedule_changed(event.schedule)

    async def async_stop(self) -> None:
        """Stop the node: tasks, sockets, zeroconf, then the ledger. Idempotent."""
        self._running = False
        await self.ev.async_unload()
        self.readings.async_stop()
        await self.settlements.async_stop()
        while self._unsubscribe:
            self._unsubscribe.pop()()
        if self._slot_task is not None:
            self._slot_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._slot_task
            self._slot_task = None
        await self.node.stop()
        self.issues.clear_transient()

    # ------------------------------------------------------------------ the entities' data

    def _snapshot(self) -> MarketData:
        trades = self.trades
        return MarketData(
            status=self.status,
            last_sync=self._last_sync(),
            last_price=trades.last_price,
            current_slot=trades.current_slot,
            current_trade=trades.current_trade,
            today_start=trades.today.start,
            today=dict(trades.today.values),
            open_orders=tuple(self.node.open_orders()),
            ev_schedule=self.agents.schedules.get(AGENT_EV),
            next_charging_slot=self.agents.next_charging_slot(trades.current_slot),
            ev_current_a=self._ev_current(trades.current_slot),
            agents=self.agents.switches(),
            slot_s=self.terms.slot_s,
            settlement=self.settlements.health,
            statements=self.settlements.statements,
            surplus=tuple(self.node.surplus_forecast(self.now_s, SURPLUS_SLOTS)),
        )

    def _ev_current(self, slot: int) -> int:
        charger = self.ev.charger
        if charger is None:
            return 0
        return charging_current(self.agents.schedules.get(AGENT_EV), slot, charger)

    def _last_sync(self) -> datetime | None:
        status = self.status
        if status is None or status.last_sync_s_ago is None or self.status_at is None:
            return None
        return (self.status_at - timedelta(seconds=status.last_sync_s_ago)).replace(microsecond=0)

    @callback
    def async_publish(self) -> None:
        """Push a fresh snapshot to the entities now (a running node only)."""
        if self._running:
            self.async_set_updated_data(self._snapshot())

    @callback
    def async_publish_soon(self) -> None:
        """Push one snapshot once the node has finished what it is doing.

        An agent's order is attributed to the agent just after the order is accepted,
        and events come in bursts: one update per burst.
        """
        if not self._publish_pending:
            self._publish_pending = True
            self.hass.loop.call_soon(self._publish_now)

    @callback
    def _publish_now(self) -> None:
        self._publish_pending = False
        self.async_publish()

    async def _async_update_data(self) -> MarketData:
        """A refresh Home Assistant asked for (`homeassistant.update_entity`)."""
        if self._running:
            self._read_status()
        return self._snapshot()

    # ------------------------------------------------------------------ status

    @callback
    def _async_refresh_on_interval(self, _now: datetime) -> None:
        self.async_refresh_status()

    @callback
    def async_refresh_status(self) -> None:
        """Read the node's status (peers, ledger, sync, clock skew) and check issues."""
        if not self._running:
            return
        self._read_status()
        self.async_publish()

    def _read_status(self) -> None:
        self.readings.sample()
        self.readings.sample_indexes()
        status = self.node.status()
        if (hub_fault := self._slot_faults.fault) is not None:
            joined = hub_fault if status.fault is None else f"{status.fault}; {hub_fault}"
            status = replace(status, fault=joined)
        self.status = status
        self.status_at = dt_util.utcnow()
        self.issues.check_status(self.status, self.status_at)

    # ------------------------------------------------------------------ slots and totals

    async def _run_slot_clock(self) -> None:
        clock = self.node.clock
        while True:
            await clock.sleep_until((self.trades.current_slot + self.terms.slot_s) * 1000)
            self._enter_slot(self.terms.slot_of(self.now_s))
            self._slot_faults.recovered()

    @callback
    def _enter_slot(self, slot: int) -> None:
        # the node cuts indexes into slots at the first sample after each boundary
        self.readings.sample_indexes()
        if self.trades.enter_slot(slot):
            self.agents.new_day(self.trades.today.start)
        self.settlements.refresh()  # the 24 h window moved
        self.async_publish()

    @callback
    def restore_today(self, key: str, day: datetime, value: int) -> None:
        """Add a total recorded before a restart, if it is today's (once, at start-up)."""
        if self.trades.restore(key, day, value):
            self.async_publish()

    # ------------------------------------------------------------------ diagnostics

    def as_dict(self) -> dict[str, Any]:
        """What the diagnostics download shows of the hub."""
        return {
            **self.trades.as_dict(),
            "agents": self.agents.switches(),
            "open_orders": len(self.node.open_orders()),
            "schedules": {
                agent_id: schedule.to_json_obj()
                for agent_id, schedule in self.agents.schedules.items()
            },
            "readings": len(self.readings),
        }
