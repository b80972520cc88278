"""The household's and the community's statements, as the entities and the
`p2p_energy.get_statement` action show them: `market.settlement.statement`'s functions
on the settled slots the node keeps, never a second computation.

Periods are local days and months of Home Assistant's time zone (the community's,
Europe/Paris, for a French one). A period's certificates count from what each producer
verifiably delivered before it; that history is read once per month (a day at a time,
from the community's creation) and again only when a slot before the month becomes final.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from market.localtime import PARIS
from market.node import Node
from market.settlement.certificates import delivered_wh
from market.settlement.period import Period
from market.settlement.records import OwnSlot, SettledSlot
from market.settlement.statement import (
    CommunityStatement,
    HouseholdStatement,
    community_statement,
    household_statement,
)
from market.tariff import GridPrices

# The history is read a day at a time: a year of a large community is many rows.
CHUNK_S: Final = 86_400


@dataclass(frozen=True, slots=True)
class Statements:
    """Today's and this month's statements, the household's and the community's."""

    day: HouseholdStatement
    month: HouseholdStatement
    community_day: CommunityStatement
    community_month: CommunityStatement


def _deliveries(slots: Iterable[SettledSlot], before: int | None = None) -> dict[str, int]:
    """What each producer verifiably delivered in `slots` (those starting before
    `before`, if given), by the certificates' rule."""
    found: dict[str, int] = {}
    for settled in slots:
        if before is not None and settled.slot >= before:
            continue
        for row in settled.rows:
            if wh := delivered_wh(settled, row.household):
                found[row.household] = found.get(row.household, 0) + wh
    return found


def _plus(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    return {key: a.get(key, 0) + b.get(key, 0) for key in set(a) | set(b)}


class StatementReader:
    """Reads one node's statements from its settlement store."""

    def __init__(self, node: Node, zone: str | None) -> None:
        """Statements of `node`'s household and community, periods in `zone`."""
        self.node = node
        self.household = node.identity.public_key.hex()
        self.zone = zone or PARIS
        terms = node.terms
        self.reference = GridPrices(terms.ceiling, terms.floor)
        self.currency = terms.currency
        # (month start, deliveries before it)
        self._before_month: tuple[int, dict[str, int]] | None = None

    def today(self, now_s: int) -> Period:
        """The local day holding `now_s`."""
        return Period.today(now_s, self.zone)

    def period(self, kind: str, day: dt.date) -> Period:
        """The local `kind` ("day" or "month") holding `day`."""
        if kind == "month":
            return Period.month(day.year, day.month, self.zone)
        return Period.day(day, self.zone)

    def slot_final(self, slot: int) -> None:
        """A slot became final: deliveries before it may have changed."""
        if self._before_month is not None and slot < self._before_month[0]:
            self._before_month = None

    async def delivered_before(self, t: int) -> dict[str, int]:
        """What each producer verifiably delivered in the slots starting before `t`."""
        created = self.node.community.created_ms // 1000
        found: dict[str, int] = {}
        for start in range(created - created % CHUNK_S, t, CHUNK_S):
            slots, _own = await self.node.settled_slots(start, min(start + CHUNK_S, t))
            found = _plus(found, _deliveries(slots))
        return found

    async def _month_history(self, month: Period) -> dict[str, int]:
        if self._before_month is None or self._before_month[0] != month.start:
            self._before_month = (month.start, await self.delivered_before(month.start))
        return self._before_month[1]

    async def read(self, now_s: int) -> Statements:
        """Today's and this month's statements."""
        day = self.today(now_s)
        month = self.period("month", dt.date.fromisoformat(day.label))
        slots, own = await self.node.settled_slots(month.start, month.end)
        before_month = await self._month_history(month)
        before_day = _plus(before_month, _deliveries(slots, day.start))
        return Statements(
            day=self._household(day, slots, own, before_day),
            month=self._household(month, slots, own, before_month),
            community_day=self._community(day, slots, before_day),
            community_month=self._community(month, slots, before_month),
        )

    async def household_statement(self, period: Period) -> HouseholdStatement:
        """The household's statement of any period."""
        slots, own = await self.node.settled_slots(period.start, period.end)
        return self._household(period, slots, own, await self.delivered_before(period.start))

    async def community_statement(self, period: Period) -> CommunityStatement:
        """The community's statement of any period."""
        slots, _own = await self.node.settled_slots(period.start, period.end)
        return self._community(period, slots, await self.delivered_before(period.start))

    def _household(
        self,
        period: Period,
        slots: list[SettledSlot],
        own: Mapping[int, OwnSlot],
        before: Mapping[str, int],
    ) -> HouseholdStatement:
        return household_statement(
            period,
            slots,
            own,
            self.household,
            reference=self.reference,
            delivered_before_wh=before.get(self.household, 0),
        )

    def _community(
        self, period: Period, slots: list[SettledSlot], before: Mapping[str, int]
    ) -> CommunityStatement:
        return community_statement(period, slots, reference=self.reference, delivered_before=before)
