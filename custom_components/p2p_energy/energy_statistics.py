"""The Energy dashboard's neighbour statistics: long-term hourly statistics (external,
`p2p_energy:...`) of the energy the household was allocated from and to its neighbours
and the money for it, and of the rest of what its meter counted (the grid supplier's),
from the settled slots its node keeps.

Only verified slots count (FINAL, or NO_TRADES: the meters alone): a disputed slot's
allocation is provisional, so its hour is imported again once a quorum settles it. An
hour is never patched by a delta: it is recomputed from the node's store
(`Node.settled_slots`), with every later hour's sum, so a re-judgement, a restart or
an hour imported twice never counts anything twice. Each statistic's sum continues
from the last one the recorder holds.

Statistics are floats (kWh, currency): display only, the settlement stays in integers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, cast

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.recorder import get_instance
from homeassistant.util.unit_conversion import EnergyConverter

from market.node import Node
from market.settlement import HouseholdSettlement
from market.units import to_kwh, to_money

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

HOUR_S: Final = 3600
# The store is read a day at a time: a first import may cover the node's whole history.
CHUNK_S: Final = 86_400
# Hours kept in memory after their import, to continue the sums from: slots are judged
# again for a day (market.node.settling.KEEP_S), so a re-judged hour is always held.
WINDOW_S: Final = 3 * 86_400
# Newer Home Assistant releases want the unit's class in the metadata; older ones reject
# a key they do not know.
_WANTS_UNIT_CLASS: Final = "unit_class" in StatisticMetaData.__annotations__


@dataclass(frozen=True, slots=True)
class NeighbourStatistic:
    """One statistic: what it sums of the household's settled slot, and how it shows."""

    key: str
    name: str
    value_fn: Callable[[HouseholdSettlement], int]
    energy: bool


NEIGHBOUR_STATISTICS: Final = (
    NeighbourStatistic(
        "energy_from_neighbours", "energy from neighbours", lambda r: r.local_bought_wh, True
    ),
    NeighbourStatistic(
        "energy_to_neighbours", "energy to neighbours", lambda r: r.local_sold_wh, True
    ),
    NeighbourStatistic(
        "cost_from_neighbours", "cost of energy from neighbours", lambda r: r.local_paid, False
    ),
    NeighbourStatistic(
        "compensation_to_neighbours",
        "compensation for energy to neighbours",
        lambda r: r.local_received,
        False,
    ),
    # The meter counts the neighbours' energy too (it flows through the public grid):
    # what is left is the supplier's, so that the dashboard counts nothing twice.
    NeighbourStatistic(
        "energy_from_grid", "energy from the grid supplier", lambda r: r.grid_import_wh, True
    ),
    NeighbourStatistic(
        "energy_to_grid", "energy to the grid supplier", lambda r: r.grid_export_wh, True
    ),
)


def statistic_id(key: str, node_id: str) -> str:
    """The id of the statistic `key` of the node `node_id` (hex)."""
    return f"{DOMAIN}:{key}_{node_id[:16]}"


def hour_of(t_s: int) -> int:
    """The start of the hour holding `t_s` (Unix s): a slot counts in the hour it
    starts in."""
    return t_s - t_s % HOUR_S


@dataclass(slots=True)
class _Series:
    """What the recorder holds of one statistic: its last hour and sum, and the
    (state, sum) of every hour from `known_from` on, as imported."""

    last: tuple[int, float] | None = None
    hours: dict[int, tuple[float, float]] = field(default_factory=dict)
    known_from: int = 0

    def base(self, first: int) -> float:
        """The sum before the hour `first`."""
        later = [hour for hour in self.hours if hour >= first]
        if later:
            state, total = self.hours[min(later)]
            return total - state
        return 0.0 if self.last is None else self.last[1]

    def keep(self, rows: Iterable[tuple[int, float, float]], horizon: int) -> None:
        """Remember imported (hour, state, sum) rows; forget hours before `horizon`."""
        for hour, state, total in rows:
            self.hours[hour] = (state, total)
            if self.last is None or hour >= self.last[0]:
                self.last = (hour, total)
        for hour in [hour for hour in self.hours if hour < horizon]:
            del self.hours[hour]
        self.known_from = max(self.known_from, horizon)


class NeighbourStatistics:
    """Imports one household's neighbour statistics as its node settles slots."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, node: Node, *, name: str, currency: str
    ) -> None:
        """Statistics of `node`'s household, named after `name`, money in `currency`."""
        self.hass = hass
        self.entry = entry
        self.node = node
        self.node_id = node.identity.public_key.hex()
        self.name = name
        self.currency = currency
        # hours to import again (-1: the catch-up), and those a failed import left
        self._pending: set[int] = set()
        self._failed: set[int] = set()
        self._series: dict[str, _Series] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = False

    @property
    def enabled(self) -> bool:
        """Statistics need the recorder (which the Energy dashboard needs anyway)."""
        return "recorder" in self.hass.config.components

    @property
    def busy(self) -> bool:
        """Whether an import is queued or running."""
        return bool(self._pending) or (self._task is not None and not self._task.done())

    @callback
    def async_start(self) -> None:
        """Catch up with what was settled since the last import (none: the node's
        history), then follow the node."""
        self._running = True
        self._request(None)

    async def async_stop(self) -> None:
        """Stop importing (an hour half imported is recomputed at the next start)."""
        self._running = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @callback
    def slot_verified(self, slot: int) -> None:
        """A slot's settlement became final (or was recorded without trades): import its
        hour again."""
        self._request(hour_of(slot))

    @callback
    def _request(self, hour: int | None) -> None:
        if not self._running or not self.enabled:
            return
        # None: the catch-up, from the last hour imported
        self._pending.add(-1 if hour is None else hour)
        self._pending |= self._failed
        self._failed.clear()
        if self._task is None or self._task.done():
            self._task = self.entry.async_create_task(
                self.hass, self._run(), f"{DOMAIN} neighbour statistics"
            )

    async def _run(self) -> None:
        while self._pending:
            requested = set(self._pending)
            self._pending.clear()
            try:
                await self._import(requested)
            except Exception:  # the recorder or the store failed: the next request retries
                _LOGGER.exception("importing the neighbour statistics failed")
                self._failed |= requested
                self._series = None

    # ------------------------------------------------------------------ importing

    def _id(self, spec: NeighbourStatistic) -> str:
        return statistic_id(spec.key, self.node_id)

    async def _load(self) -> dict[str, _Series]:
        recorder = get_instance(self.hass)
        # imports queued before (by this entry before a reload) are in the database first
        await recorder.async_block_till_done()
        series: dict[str, _Series] = {}
        for spec in NEIGHBOUR_STATISTICS:
            sid = self._id(spec)
            found = _Series()
            last = await recorder.async_add_executor_job(
                get_last_statistics, self.hass, 1, sid, False, {"sum"}
            )
            if last.get(sid):
                last_hour = int(last[sid][0]["start"])
                since = datetime.fromtimestamp(last_hour - WINDOW_S, UTC)
                recent = await recorder.async_add_executor_job(
                    statistics_during_period,
                    self.hass,
                    since,
                    None,
                    {sid},
                    "hour",
                    None,
                    {"state", "sum"},
                )
                found.keep(
                    (
                        (
                            int(row["start"]),
                            float(row.get("state") or 0.0),
                            float(row.get("sum") or 0.0),
                        )
                        for row in recent.get(sid, [])
                    ),
                    last_hour - WINDOW_S,
                )
            series[sid] = found
        return series

    async def _import(self, requested: set[int]) -> None:
        if self._series is None:
            self._series = await self._load()
        series = self._series
        now_hour = hour_of(self.node.clock.now_ms() // 1000)
        lasts = [s.last[0] for s in series.values() if s.last is not None]
        hours = {hour for hour in requested if hour >= 0}
        fresh = not lasts
        if -1 in requested:
            # the catch-up: the last hour imported may have been partial
            hours.add(min(lasts) if lasts else hour_of(self.node.community.created_ms // 1000))
            hours.add(now_hour)
        # an hour older than the sums held is beyond re-judgement: left alone
        known_from = max(held.known_from for held in series.values())
        hours = {max(hour, known_from) for hour in hours}
        first = min(hours)
        end = max(hours | set(lasts))
        values, seen = await self._hour_values(first, end + HOUR_S)
        if fresh:
            # nothing imported yet: start at the first hour the household was settled in
            if not seen:
                return
            first = min(seen)
        horizon = now_hour - WINDOW_S
        for spec in NEIGHBOUR_STATISTICS:
            sid = self._id(spec)
            held = series[sid]
            base = held.base(first)
            total = 0
            rows: list[tuple[int, float, float]] = []
            for hour in range(first, end + HOUR_S, HOUR_S):
                value = values.get(hour, {}).get(spec.key, 0)
                total += value
                rows.append((hour, self._native(spec, value), base + self._native(spec, total)))
            async_add_external_statistics(
                self.hass,
                self._metadata(spec),
                [
                    StatisticData(
                        start=datetime.fromtimestamp(hour, UTC), state=state, sum=total_sum
                    )
                    for hour, state, total_sum in rows
                ],
            )
            held.keep(rows, horizon)

    async def _hour_values(
        self, start: int, end: int
    ) -> tuple[dict[int, dict[str, int]], set[int]]:
        """Per hour, each statistic's integer total of the verified slots; and the hours
        holding a slot the household was settled in (any state)."""
        values: dict[int, dict[str, int]] = {}
        seen: set[int] = set()
        for chunk in range(start, end, CHUNK_S):
            settled, _own = await self.node.settled_slots(chunk, min(chunk + CHUNK_S, end))
            for slot in settled:
                row = slot.row(self.node_id)
                if row is None:
                    continue
                hour = hour_of(slot.slot)
                seen.add(hour)
                if not slot.verified:
                    continue
                sums = values.setdefault(hour, {})
                for spec in NEIGHBOUR_STATISTICS:
                    sums[spec.key] = sums.get(spec.key, 0) + spec.value_fn(row)
        return values, seen

    @staticmethod
    def _native(spec: NeighbourStatistic, value: int) -> float:
        return to_kwh(value) if spec.energy else to_money(value)

    def _metadata(self, spec: NeighbourStatistic) -> StatisticMetaData:
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"{self.name} {spec.name}",
            source=DOMAIN,
            statistic_id=self._id(spec),
            unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR if spec.energy else self.currency,
        )
        if _WANTS_UNIT_CLASS:
            unit_class = EnergyConverter.UNIT_CLASS if spec.energy else None
            cast(dict[str, Any], metadata)["unit_class"] = unit_class
        return metadata
