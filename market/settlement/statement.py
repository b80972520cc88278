"""Statements: what settlement made of a household's (or the community's) local day or
month, in integers (docs/settlement.md, "Statements").

Pure functions of the settled slots a node keeps (market.settlement.store) and, for a
household, its own prices and PV production per slot. Energy is Wh, money Wh*ticks.

DISPUTED slots are counted apart: their allocation has no quorum yet, so their local
figures are provisional; they stay out of the totals, the savings, the usage rate and
the certificates until they become final (the node replaces them in its store).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..tariff import GridPrices
from .certificates import CERTIFICATE_WH, delivered_wh
from .period import Period
from .public import priced
from .records import OwnSlot, SettledSlot, SettleState
from .slot import HouseholdSettlement

BASIS_POINTS = 10_000

DISPUTED_NOTE = (
    "disputed slots: no quorum on their allocation yet; their local figures are "
    "provisional and excluded from the totals, the savings and the usage rate"
)
REFERENCE_NOTE = (
    "community savings are estimated at the community's reference prices: the ceiling "
    "for grid import, the floor for feed-in (each household's own tariff is private)"
)
METERS_NOTE = (
    "the community sees meters only: PV used at home never reaches the ledger, so its "
    "PV self-consumption is the collective part, local sold / metered export"
)


@dataclass(frozen=True, slots=True)
class Ratio:
    """An exact share of energies (Wh / Wh); `basis_points` rounds it down for display."""

    numerator_wh: int
    denominator_wh: int

    @property
    def basis_points(self) -> int | None:
        """The share in 1/10,000 (rounded down), or None when there is nothing to share."""
        if self.denominator_wh == 0:
            return None
        return self.numerator_wh * BASIS_POINTS // self.denominator_wh

    def to_json_obj(self) -> dict[str, Any]:
        """The ratio as a JSON object."""
        return {
            "numerator_wh": self.numerator_wh,
            "denominator_wh": self.denominator_wh,
            "basis_points": self.basis_points,
        }


_TOTAL_FIELDS = (
    "import_wh",
    "export_wh",
    "local_bought_wh",
    "local_sold_wh",
    "grid_import_wh",
    "grid_export_wh",
    "local_paid",
    "local_received",
    "grid_paid",
    "grid_received",
    "baseline_cost",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    """Sums of settled slots (`HouseholdSettlement` rows): energy Wh, money Wh*ticks."""

    import_wh: int = 0
    export_wh: int = 0
    local_bought_wh: int = 0
    local_sold_wh: int = 0
    grid_import_wh: int = 0
    grid_export_wh: int = 0
    local_paid: int = 0
    local_received: int = 0
    grid_paid: int = 0
    grid_received: int = 0
    baseline_cost: int = 0

    @classmethod
    def of(cls, rows: Iterable[HouseholdSettlement]) -> Totals:
        """The sum of `rows`."""
        sums = dict.fromkeys(_TOTAL_FIELDS, 0)
        for row in rows:
            for name in _TOTAL_FIELDS:
                sums[name] += getattr(row, name)
        return cls(**sums)

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{n: getattr(self, n) + getattr(other, n) for n in _TOTAL_FIELDS})

    @property
    def cost(self) -> int:
        """Net money paid, local market and grid together (negative: income)."""
        return self.local_paid + self.grid_paid - self.local_received - self.grid_received

    @property
    def savings(self) -> int:
        """The grid-only baseline minus the cost."""
        return self.baseline_cost - self.cost

    def to_json_obj(self) -> dict[str, int]:
        """The totals with the derived cost and savings."""
        obj = {name: getattr(self, name) for name in _TOTAL_FIELDS}
        obj["cost"] = self.cost
        obj["savings"] = self.savings
        return obj


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotCounts:
    """A household's slots in the store for the period, by what became of them:
    final and no_trades count slots it was read in; unmeasured, verified slots without
    its reading (it was allocated nothing); disputed, slots with no quorum yet."""

    final: int = 0
    no_trades: int = 0
    disputed: int = 0
    unmeasured: int = 0

    def to_json_obj(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class CertificateCount:
    """Certificates completed in the period and the Wh carried toward the next one at
    its end (market.settlement.certificates)."""

    earned: int
    carried_wh: int

    @classmethod
    def of(cls, before_wh: int, during_wh: int) -> CertificateCount:
        """From what was delivered before the period and during it."""
        after = before_wh + during_wh
        return cls(after // CERTIFICATE_WH - before_wh // CERTIFICATE_WH, after % CERTIFICATE_WH)

    def to_json_obj(self) -> dict[str, int]:
        """The count as a JSON object."""
        return {"earned": self.earned, "carried_wh": self.carried_wh}


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdStatement:
    """A household's local day or month.

    `totals` cover the FINAL and NO_TRADES slots, priced at the household's own tariff
    (at the community's reference prices for the `reference_priced_slots` it has no
    prices of); `provisional` sums the DISPUTED slots apart. `usage_rate` is the share
    of its consumption covered by local production: PV used at home (where a PV sensor
    told the production) plus energy allocated from neighbours, over its consumption.
    """

    household: str
    period: Period
    slots: SlotCounts
    totals: Totals
    pv_wh: int | None
    usage_rate: Ratio
    certificates: CertificateCount
    provisional: Totals
    reference_priced_slots: int

    def to_json_obj(self) -> dict[str, Any]:
        """The statement as a JSON object (integers: Wh, Wh*ticks)."""
        return {
            "household": self.household,
            "period": self.period.to_json_obj(),
            "slots": self.slots.to_json_obj(),
            "totals": self.totals.to_json_obj(),
            "pv_wh": self.pv_wh,
            "usage_rate": self.usage_rate.to_json_obj(),
            "certificates": self.certificates.to_json_obj(),
            "disputed": {**self.provisional.to_json_obj(), "note": DISPUTED_NOTE},
            "reference_priced_slots": self.reference_priced_slots,
        }


def household_statement(
    period: Period,
    slots: Iterable[SettledSlot],
    own: Mapping[int, OwnSlot],
    household: str,
    *,
    reference: GridPrices,
    delivered_before_wh: int = 0,
) -> HouseholdStatement:
    """`household`'s statement for `period` from the settled `slots` (those outside the
    period are ignored) and its `own` prices per slot.

    `reference` prices the slots `own` has no prices for; `delivered_before_wh` is what
    the household verifiably delivered before the period (`certificates.Deliveries.
    before`), from which the period's certificates are counted.
    """
    counts = dict.fromkeys(("final", "no_trades", "disputed", "unmeasured"), 0)
    verified: list[HouseholdSettlement] = []
    disputed: list[HouseholdSettlement] = []
    pv_total: int | None = None
    local_wh = consumption_wh = by_reference = delivered = 0
    for settled in slots:
        if not period.holds(settled.slot):
            continue
        row = settled.row(household)
        if settled.state is SettleState.DISPUTED:
            counts["disputed"] += 1
        elif row is None or not row.measured:
            counts["unmeasured"] += 1
        else:
            counts[settled.state.value] += 1
        if row is None:
            continue
        mine = own.get(settled.slot)
        if mine is None and row.measured and settled.state is not SettleState.DISPUTED:
            by_reference += 1
        row = priced(row, reference if mine is None else mine.prices)
        if settled.state is SettleState.DISPUTED:
            disputed.append(row)
            continue
        verified.append(row)
        delivered += delivered_wh(settled, household)
        if not row.measured:
            continue
        # Consumption behind the meter is import + PV used at home; a PV figure below
        # the export (a sensor that lags the meter) counts as none used, never negative.
        at_home = 0
        if mine is not None and mine.pv_wh is not None:
            at_home = max(mine.pv_wh - row.export_wh, 0)
            pv_total = (pv_total or 0) + mine.pv_wh
        local_wh += at_home + row.local_bought_wh
        consumption_wh += row.import_wh + at_home
    return HouseholdStatement(
        household=household,
        period=period,
        slots=SlotCounts(**counts),
        totals=Totals.of(verified),
        pv_wh=pv_total,
        usage_rate=Ratio(local_wh, consumption_wh),
        certificates=CertificateCount.of(delivered_before_wh, delivered),
        provisional=Totals.of(disputed),
        reference_priced_slots=by_reference,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityStatement:
    """The community's local day or month, from the public settlement (meters only).

    `self_sufficiency` is local traded / metered import; `export_traded`, local traded
    / metered export (the collective PV self-consumption; PV used at home is not in the
    ledger). `savings_at_reference` prices every member's slot at the community's
    reference prices. `usage_rates_bp` are the members' shares of import bought
    locally, in basis points, sorted, without ids (members who imported nothing are
    left out). `provisional_local_wh` is the local energy of DISPUTED slots, apart.
    """

    period: Period
    reference: GridPrices
    slots_final: int
    slots_no_trades: int
    slots_disputed: int
    readings_missing: int
    members: int
    import_wh: int
    export_wh: int
    local_wh: int
    local_paid: int
    local_received: int
    self_sufficiency: Ratio
    export_traded: Ratio
    savings_at_reference: int
    usage_rates_bp: tuple[int, ...]
    certificates_earned: int
    provisional_local_wh: int

    def to_json_obj(self) -> dict[str, Any]:
        """The statement as a JSON object (integers: Wh, Wh*ticks, ticks/kWh)."""
        return {
            "period": self.period.to_json_obj(),
            "slots": {
                "final": self.slots_final,
                "no_trades": self.slots_no_trades,
                "disputed": self.slots_disputed,
            },
            "readings_missing": self.readings_missing,
            "members": self.members,
            "import_wh": self.import_wh,
            "export_wh": self.export_wh,
            "local_wh": self.local_wh,
            "local_paid": self.local_paid,
            "local_received": self.local_received,
            "self_sufficiency": self.self_sufficiency.to_json_obj(),
            "export_traded": self.export_traded.to_json_obj(),
            "savings_at_reference": self.savings_at_reference,
            "reference_prices": {"import": self.reference.buy, "feed_in": self.reference.sell},
            "usage_rates_bp": list(self.usage_rates_bp),
            "certificates_earned": self.certificates_earned,
            "disputed": {"local_wh": self.provisional_local_wh, "note": DISPUTED_NOTE},
            "notes": [REFERENCE_NOTE, METERS_NOTE],
        }


def community_statement(
    period: Period,
    slots: Iterable[SettledSlot],
    *,
    reference: GridPrices,
    delivered_before: Mapping[str, int] | None = None,
) -> CommunityStatement:
    """The community's statement for `period` from the settled `slots` (those outside
    the period are ignored). `reference` is (terms.ceiling, terms.floor);
    `delivered_before` what each producer delivered before the period."""
    counts = dict.fromkeys(SettleState, 0)
    rows: list[HouseholdSettlement] = []
    provisional = missing = 0
    for settled in slots:
        if not period.holds(settled.slot):
            continue
        counts[settled.state] += 1
        if settled.state is SettleState.DISPUTED:
            provisional += sum(row.local_bought_wh for row in settled.rows)
            continue
        rows.extend(settled.rows)
        missing += sum(not row.measured for row in settled.rows)
    totals = Totals.of(rows)
    return CommunityStatement(
        period=period,
        reference=reference,
        slots_final=counts[SettleState.FINAL],
        slots_no_trades=counts[SettleState.NO_TRADES],
        slots_disputed=counts[SettleState.DISPUTED],
        readings_missing=missing,
        members=len({row.household for row in rows if row.measured}),
        import_wh=totals.import_wh,
        export_wh=totals.export_wh,
        local_wh=totals.local_bought_wh,
        local_paid=totals.local_paid,
        local_received=totals.local_received,
        self_sufficiency=Ratio(totals.local_bought_wh, totals.import_wh),
        export_traded=Ratio(totals.local_sold_wh, totals.export_wh),
        savings_at_reference=sum(priced(row, reference).savings for row in rows),
        usage_rates_bp=_usage_rates(rows),
        certificates_earned=_certificates_earned(rows, delivered_before or {}),
        provisional_local_wh=provisional,
    )


def _usage_rates(rows: Sequence[HouseholdSettlement]) -> tuple[int, ...]:
    bought: dict[str, int] = {}
    imported: dict[str, int] = {}
    for row in rows:
        bought[row.household] = bought.get(row.household, 0) + row.local_bought_wh
        imported[row.household] = imported.get(row.household, 0) + row.import_wh
    return tuple(
        sorted(
            bought[household] * BASIS_POINTS // imported[household]
            for household in imported
            if imported[household] > 0
        )
    )


def _certificates_earned(rows: Sequence[HouseholdSettlement], before: Mapping[str, int]) -> int:
    # `rows` hold NO_TRADES slots too, whose local_sold_wh is 0: summing them is the same
    # as summing the FINAL slots' deliveries alone.
    during: dict[str, int] = {}
    for row in rows:
        if row.local_sold_wh:
            during[row.household] = during.get(row.household, 0) + row.local_sold_wh
    return sum(
        CertificateCount.of(before.get(producer, 0), wh).earned for producer, wh in during.items()
    )
