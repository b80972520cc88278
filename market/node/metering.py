"""The household's signed readings: one `reading` entry per slot its meter measured
(docs/settlement.md, "Readings").

The host hands the node its meter's samples (`Node.record_meter_index` for energy
indexes, `Node.record_meter_power` when there are only power samples); the recorder
cuts them into slots with market.settlement.SlotMeter and signs each reading once,
after the slot ended. A slot the meter could not measure is counted by reason, never
signed with an invented value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import MutableMapping
from typing import Any

from ..agents import DemandForecaster
from ..agents.demand_forecast import WEEK_S
from ..ledger import Kind, Ledger, ReadingBody
from ..ledger.errors import LedgerError
from ..meter import MeterSnapshot
from ..settlement.metering import Gap, MeterOutcome, SlotMeter, SlotReading
from ..supervise import FaultLog
from ..tariff import UNKNOWN_PERIOD, MeterPeriod
from ..terms import CommunityTerms
from .datadir import DataDir, save_slot_table

_LOGGER = logging.getLogger(__name__)

# The largest household connection in France (36 kVA): a slot holding more is a
# corrupted index, not a measurement.
MAX_CONNECTION_W = 36_000
# Readings waiting to be signed while the ledger cannot take them (a full disk): a day
# of 15-minute slots; the oldest go first, counted.
MAX_PENDING = 96
# Slots already signed, remembered so that a sample replayed after a restart of the
# meter never signs a slot twice.
SIGNED_KEPT = 1024
# The household's expected import is forecast for the slot under way and this many
# more: the consumption buyer bids a few open slots ahead.
DEMAND_SLOTS = 8


class ReadingRecorder:
    """Signs the household's slot readings on its own chain, and learns from them what
    the household draws (`demand`: its own readings, at load and as it signs them).

    The demand learned is a slot's import minus what the household's steered loads
    bought for it (`note_steered`: the car's or the boiler's orders): those loads buy
    their own energy when they run, and a car charged on Tuesday noon is no reason for
    the consumption buyer to bid for Wednesday noon. What they bought is kept on disk
    for the forecast's weeks, so a restart learns the same."""

    def __init__(
        self,
        ledger: Ledger,
        terms: CommunityTerms,
        stats: MutableMapping[str, int],
        data: DataDir,
    ) -> None:
        self._ledger = ledger
        self._data = data
        self._stats = stats
        self._meter = SlotMeter(
            terms.slot_s, max_import_w=MAX_CONNECTION_W, max_export_w=MAX_CONNECTION_W
        )
        # what the household's own statement needs and nobody else sees: the tariff
        # period its meter told in each slot, and its PV production (a PV index)
        self._periods: dict[int, MeterPeriod] = {}
        self._pv = SlotMeter(terms.slot_s, max_import_w=MAX_CONNECTION_W, max_export_w=0)
        self._pv_wh: dict[int, int] = {}
        self._slot_s = terms.slot_s
        self._pending: deque[SlotReading] = deque()
        self._signed: deque[int] = deque(maxlen=SIGNED_KEPT)
        self._task: asyncio.Task[None] | None = None
        self.faults = FaultLog("signing a meter reading", stats, "reading_failures")
        self.demand = DemandForecaster(terms.slot_s)
        # slot -> Wh bought by the household's steered loads (only slots that had some)
        self._steered: dict[int, int] = {}
        self._steered_dirty = False

    async def load(self) -> None:
        """Remember the slots this node already signed a reading for, and learn the
        household's demand from them."""
        identity = self._ledger.identity
        if identity is None:
            return
        entries = await self._ledger.entries(author=identity.public_key, kind=Kind.READING)
        kept = max(SIGNED_KEPT, self.demand.history_slots)
        bodies = [ReadingBody.decode(entry.body) for entry in entries[-kept:]]
        loop = asyncio.get_running_loop()
        self._steered = await loop.run_in_executor(None, self._data.steered_loads)
        if bodies:
            self._forget_steered(bodies[-1].slot)
        for body in bodies:
            self._learn(body.slot, body.import_wh)
        for body in bodies[-SIGNED_KEPT:]:
            self._signed.append(body.slot)

    def note_steered(self, slot: int, energy_wh: int) -> None:
        """What the household's steered loads (every buyer but the consumption buyer)
        were filled in `slot`; a later result for the slot replaces it. A slot whose
        reading was already learned keeps what was learned (a late result after a
        dispute: the forecast's lower median absorbs one such slot)."""
        if energy_wh > 0:
            self._steered[slot] = energy_wh
        elif self._steered.pop(slot, None) is None:
            return
        self._steered_dirty = True
        self._forget_steered(slot)

    def _forget_steered(self, newest: int) -> None:
        # the forecast forgets readings older than its weeks; so does this table
        since = newest - self.demand.weeks * WEEK_S
        for old in [old for old in self._steered if old < since]:
            del self._steered[old]

    def _learn(self, slot: int, import_wh: int) -> None:
        self.demand.learn(slot, max(0, import_wh - self._steered.get(slot, 0)))

    async def _save_steered(self) -> None:
        if not self._steered_dirty:
            return
        self._steered_dirty = False
        # a failure: after a restart those slots are learned whole (a forecast a little high)
        if not await save_slot_table(
            self._data.save_steered_loads, dict(self._steered), self._stats, "steered_save_failures"
        ):
            self._steered_dirty = True

    def expected_import(self, now_s: int, count: int) -> dict[int, int]:
        """The import expected (Wh) in the slot under way at `now_s` and the `count - 1`
        after it; a slot with no guess yet is absent."""
        first = now_s - now_s % self._slot_s
        return self.demand.forecast(range(first, first + count * self._slot_s, self._slot_s))

    def add_index(self, at_s: int, import_wh: int, export_wh: int) -> None:
        """A sample of the meter's cumulative energy indexes (Wh) at `at_s`."""
        self._take(self._meter.add_index(at_s, import_wh, export_wh))

    def note_period(self, at_s: int, period: MeterPeriod) -> None:
        """The tariff period the meter tells at `at_s` (the first heard in a slot counts)."""
        slot = at_s - at_s % self._slot_s
        if slot not in self._periods:
            self._periods[slot] = period
            self._forget(self._periods, slot)

    def add_pv(self, at_s: int, pv_wh: int) -> None:
        """A sample of the PV production index (Wh) at `at_s`."""
        for outcome in self._pv.add_index(at_s, pv_wh):
            if isinstance(outcome, SlotReading):
                self._pv_wh[outcome.slot] = outcome.import_wh
                self._forget(self._pv_wh, outcome.slot)

    def _forget(self, table: dict[int, Any], slot: int) -> None:
        # a day of slots is plenty: a slot is settled minutes after it ended
        for old in [old for old in table if old <= slot - MAX_PENDING * self._slot_s]:
            del table[old]

    def slot_inputs(self, slot: int) -> tuple[MeterPeriod, int | None]:
        """The period the meter told in `slot` and the PV produced in it (None: unknown)."""
        return self._periods.get(slot, UNKNOWN_PERIOD), self._pv_wh.get(slot)

    def add_power(self, at_s: int, import_w: int, export_w: int) -> None:
        """A sample of the power drawn and injected (W) at `at_s`."""
        self._take(self._meter.add_power(at_s, import_w, export_w))

    def _take(self, outcomes: list[MeterOutcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Gap):
                self._stats[f"reading_gaps_{outcome.reason}"] += 1
                _LOGGER.info("slot %d has no reading: %s", outcome.slot, outcome.reason)
            elif outcome.slot not in self._signed and outcome not in self._pending:
                if len(self._pending) == MAX_PENDING:
                    self._pending.popleft()
                    self._stats["readings_dropped"] += 1
                self._pending.append(outcome)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._sign_pending(), name="p2p-node-readings"
            )

    async def _sign_pending(self) -> None:
        while self._pending:
            reading = self._pending[0]
            body = ReadingBody(
                reading.slot, reading.import_wh, reading.export_wh, reading.estimated
            )
            try:
                await self._ledger.append(Kind.READING, body.encode())
            except (LedgerError, OSError) as err:
                # Kept: the next sample that completes a slot tries again.
                self.faults.failed(err)
                return
            self.faults.recovered()
            self._pending.popleft()
            self._signed.append(reading.slot)
            self._learn(reading.slot, reading.import_wh)
            self._stats["readings_signed"] += 1
        await self._save_steered()

    async def stop(self) -> None:
        """Let a signing in progress finish. Readings still pending (the ledger refused
        them) are lost with the process: those slots have no reading."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None


class MeterInputs:
    """The part of the node's API that takes the household's meter (a mixin of Node)."""

    _readings: ReadingRecorder

    def record_meter_index(self, at_s: int, *, import_wh: int, export_wh: int = 0) -> None:
        """The meter's cumulative indexes (Wh: Linky EAST or the sum of the historic
        indexes, EAIT; an energy sensor) at `at_s`, by the node's clock. Export 0 for a
        meter that counts none. Each slot both of whose boundaries were heard is signed
        as a reading."""
        self._readings.add_index(at_s, import_wh, export_wh)

    def record_meter_snapshot(self, at_s: int, snapshot: MeterSnapshot) -> None:
        """A Linky snapshot (market.meter) at `at_s`: its import index (EAST, or the sum of
        the historic tariff indexes) and its export index (EAIT, 0 when it counts none),
        while the meter is heard."""
        state = snapshot.meter
        if not snapshot.available or state is None:
            return
        self._readings.note_period(at_s, MeterPeriod.of(state))
        if state.import_wh is not None:
            self.record_meter_index(at_s, import_wh=state.import_wh, export_wh=state.export_wh or 0)

    def record_pv_index(self, at_s: int, *, energy_wh: int) -> None:
        """The PV inverter's cumulative production (Wh) at `at_s`: kept for the
        household's own statement (its self-consumption), never signed or gossiped."""
        self._readings.add_pv(at_s, energy_wh)

    def record_meter_power(self, at_s: int, *, import_w: int, export_w: int = 0) -> None:
        """Power drawn and injected (W) at `at_s`, for a household with no energy index
        at all: slots are integrated and signed as estimated readings."""
        self._readings.add_power(at_s, import_w, export_w)

    def demand_forecast(self, now_s: int, count: int = DEMAND_SLOTS) -> dict[int, int]:
        """The household's expected grid import (Wh, by slot start) in the slot under way
        at `now_s` and the `count - 1` after it, learned from its own signed readings by
        local time of day and weekday or weekend (market.agents.DemandForecaster); a
        slot it has nothing to go by for yet is absent. What the hosts hand the
        consumption buyer as `Observation.demand`: a Linky measures the import after the
        household's own PV, which is the deficit to buy."""
        return self._readings.expected_import(now_s, count)
