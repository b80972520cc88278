"""The household's settled slots as Home Assistant shows them.

`HouseholdSettlements` follows the node's `SlotSettled` events: a verified slot's hour
goes to the neighbour statistics (`energy_statistics`), and every settlement, like every
new slot, reads the node's store again: today's and this month's statements
(`statements`), and the last 24 h for the settlement status entity and its repair issues
(`MarketIssues.check_settlement`).

What counts as a problem (docs/settlement.md): a slot of the window still DISPUTED in
which the household traded or was read (its local figures are provisional), and a slot
it traded in but was allocated nothing because the community holds no counted reading
of its meter (`measured` false).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback

from market.node import Node
from market.node.events import SlotSettled
from market.settlement.records import SettledSlot, SettleState

from .const import DOMAIN
from .energy_statistics import NeighbourStatistics
from .issues import MarketIssues
from .statements import StatementReader, Statements

_LOGGER = logging.getLogger(__name__)

# How far back the status looks, and how many problem slots in it raise a repair issue.
HEALTH_WINDOW_S: Final = 86_400
ISSUE_AFTER_SLOTS: Final = 4


class SettlementStatus(StrEnum):
    """The settlement status entity's states, the one needing attention first."""

    OK = "ok"
    # the household's meter was not counted in slots it traded in: its own problem
    MISSING_READINGS = "missing_readings"
    # the community has no quorum on slots the household is in: provisional figures
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class SettlementHealth:
    """The household's problem slots (starts, Unix s) of the window."""

    disputed: tuple[int, ...] = ()
    unmeasured: tuple[int, ...] = ()

    @classmethod
    def of(cls, slots: Iterable[SettledSlot], household: str) -> SettlementHealth:
        """The problems of `household` (hex key) among settled `slots`."""
        disputed: list[int] = []
        unmeasured: list[int] = []
        for settled in slots:
            row = settled.row(household)
            if row is None:
                continue  # neither traded nor read: nothing of it to settle
            if settled.state is SettleState.DISPUTED:
                disputed.append(settled.slot)
            elif not row.measured:
                # a row without a reading exists because the household traded
                unmeasured.append(settled.slot)
        return cls(tuple(disputed), tuple(unmeasured))

    @property
    def status(self) -> SettlementStatus:
        """What the entity shows."""
        if self.unmeasured:
            return SettlementStatus.MISSING_READINGS
        if self.disputed:
            return SettlementStatus.DISPUTED
        return SettlementStatus.OK


class HouseholdSettlements:
    """What the entities and the Energy dashboard show of one household's settlement."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        node: Node,
        issues: MarketIssues,
        *,
        name: str,
        changed: Callable[[], None],
    ) -> None:
        """Settlements of `node`'s household; `changed` is called with new figures."""
        self.hass = hass
        self.entry = entry
        self.node = node
        self.household = node.identity.public_key.hex()
        self.issues = issues
        self.statistics = NeighbourStatistics(
            hass, entry, node, name=name, currency=node.terms.currency
        )
        self.reader = StatementReader(node, hass.config.time_zone)
        self.health: SettlementHealth | None = None
        self.statements: Statements | None = None
        self._changed = changed
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._running = False

    @callback
    def async_start(self) -> None:
        """Read what the node settled so far; import the statistics it lacks."""
        self._running = True
        self.statistics.async_start()
        self.refresh()

    async def async_stop(self) -> None:
        """Stop reading the node's store (before the node closes it)."""
        self._running = False
        await self.statistics.async_stop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @callback
    def on_settled(self, event: SlotSettled) -> None:
        """The node recorded a slot's settlement (or changed it)."""
        if event.state != SettleState.DISPUTED:
            self.statistics.slot_verified(event.slot)
        if event.state == SettleState.FINAL:
            self.reader.slot_final(event.slot)
        self.refresh()

    @callback
    def refresh(self) -> None:
        """Read the settled slots again soon (a burst of events reads them once)."""
        if not self._running:
            return
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = self.entry.async_create_task(
                self.hass, self._run(), f"{DOMAIN} settlements"
            )

    async def _run(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self._read()
            except Exception:  # the store failed: the next slot or settlement reads again
                _LOGGER.exception("reading the settled slots failed")
                return
            self._changed()

    async def _read(self) -> None:
        now_s = self.node.clock.now_ms() // 1000
        slots, _own = await self.node.settled_slots(now_s - HEALTH_WINDOW_S, now_s)
        self.statements = await self.reader.read(now_s)
        self.health = SettlementHealth.of(slots, self.household)
        self.issues.check_settlement(
            disputed=len(self.health.disputed),
            unmeasured=len(self.health.unmeasured),
            threshold=ISSUE_AFTER_SLOTS,
            hours=HEALTH_WINDOW_S // 3600,
        )
