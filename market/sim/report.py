"""A simulation's outcome: per-slot community flows and per-household totals against
the grid-only baseline, as JSON and as a printed summary.

Energy in Wh, prices in ticks per kWh, money in Wh*ticks (see `units`), shares in per
mille; all integers, so two runs of the same seed give byte-identical reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..localtime import PARIS, SECONDS_PER_DAY
from ..settlement import HouseholdSettlement
from .units import (
    MONEY_UNIT,
    days_text,
    kwh_text,
    money_text,
    permille_text,
    price_text,
    ratio_permille,
)


class InvalidReportInputError(ValueError):
    """A slot handed to the report is inconsistent; the message says how."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdUsage:
    """What a household used and produced over a slot, behind its meter (Wh).

    `consumption_wh` is everything it consumed (base load, EV, other steered loads);
    `ev_wh` is the part of it that charged the car.
    """

    consumption_wh: int
    pv_wh: int
    ev_wh: int = 0


@dataclass(slots=True)
class HouseholdTotals:
    """One household's sums over the run: energy (Wh) and money (Wh*ticks)."""

    consumption_wh: int = 0
    pv_wh: int = 0
    ev_wh: int = 0
    ev_local_wh: int = 0
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
    cost: int = 0
    baseline_cost: int = 0
    worse_off_slots: int = 0

    @property
    def savings(self) -> int:
        """Money saved against the grid alone (negative: the household lost)."""
        return self.baseline_cost - self.cost

    @property
    def self_sufficiency_permille(self) -> int | None:
        """Share of its consumption covered by PV, its own and its neighbours'."""
        return ratio_permille(self.consumption_wh - self.grid_import_wh, self.consumption_wh)

    @property
    def pv_local_share_permille(self) -> int | None:
        """Share of its PV used in the neighbourhood: self-consumed (or stored) at home,
        or sold to a neighbour."""
        return pv_local_share_permille(self.pv_wh, self.export_wh, self.local_sold_wh)

    @property
    def ev_local_share_permille(self) -> int | None:
        """Share of its car's charging bought from neighbours."""
        return ratio_permille(self.ev_local_wh, self.ev_wh)

    def add(self, settled: HouseholdSettlement, usage: HouseholdUsage, ev_local_wh: int) -> None:
        """Add one slot."""
        self.consumption_wh += usage.consumption_wh
        self.pv_wh += usage.pv_wh
        self.ev_wh += usage.ev_wh
        self.ev_local_wh += ev_local_wh
        self.import_wh += settled.import_wh
        self.export_wh += settled.export_wh
        self.local_bought_wh += settled.local_bought_wh
        self.local_sold_wh += settled.local_sold_wh
        self.grid_import_wh += settled.grid_import_wh
        self.grid_export_wh += settled.grid_export_wh
        self.local_paid += settled.local_paid
        self.local_received += settled.local_received
        self.grid_paid += settled.grid_paid
        self.grid_received += settled.grid_received
        self.cost += settled.cost
        self.baseline_cost += settled.baseline_cost
        self.worse_off_slots += settled.savings < 0

    def to_json_obj(self) -> dict[str, Any]:
        """The totals with the derived savings and self-sufficiency."""
        return {
            **asdict(self),
            "savings": self.savings,
            "self_sufficiency_permille": self.self_sufficiency_permille,
            "pv_local_share_permille": self.pv_local_share_permille,
            "ev_local_share_permille": self.ev_local_share_permille,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotPoint:
    """The community over one slot: the clearing outcome and its energy flows (Wh)."""

    slot: int
    price: int | None
    disputed: bool
    consumption_wh: int
    pv_wh: int
    local_wh: int
    grid_import_wh: int
    grid_export_wh: int
    local_paid: int
    ev_local_wh: int
    match_limit_wh: int
    ledger_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunitySummary:
    """The run's headline figures (see docs/simulation.md, "Report")."""

    households: int
    slots: int
    slot_s: int
    first_slot: int | None
    consumption_wh: int
    pv_wh: int
    import_wh: int
    export_wh: int
    local_traded_wh: int
    grid_import_wh: int
    grid_export_wh: int
    self_sufficiency_permille: int | None
    self_sufficiency_own_pv_permille: int | None
    pv_self_consumption_permille: int | None
    pv_traded_permille: int | None
    pv_local_share_permille: int | None
    match_limit_wh: int
    match_efficiency_permille: int | None
    average_clearing_price: int | None
    average_local_price: int | None
    cost: int
    baseline_cost: int
    savings: int
    households_worse_off: int
    worse_off_slots: int
    ev_wh: int
    ev_local_wh: int
    ev_local_share_permille: int | None
    disputed_slots: int
    ledger_bytes: int
    ledger_bytes_per_household_per_day: int | None


def match_limit_wh(settlements: Iterable[HouseholdSettlement]) -> int:
    """The most one slot could have traded between neighbours: min(what the meters
    exported, what they imported), each after the households' own use, batteries and
    cars. The settlement allocates no more (docs/settlement.md), so traded <= limit."""
    rows = list(settlements)
    return min(sum(row.export_wh for row in rows), sum(row.import_wh for row in rows))


def pv_local_share_permille(pv_wh: int, export_wh: int, local_sold_wh: int) -> int | None:
    """Share of PV production used in the neighbourhood: what was not exported (used or
    stored at home) plus what was exported but sold to a neighbour."""
    return ratio_permille(pv_wh - export_wh + local_sold_wh, pv_wh)


def ev_local_wh(*, ev_wh: int, local_bought_wh: int, ev_filled_wh: int, filled_wh: int) -> int:
    """The part of a household's settled local purchase that charged its car.

    The settlement allocates a household's purchase as a whole (`local_bought_wh`, at
    most its import); it is split between the car and the household's other bids pro
    rata to their fills (`ev_filled_wh` of `filled_wh`), and is at most what the car
    charged (`ev_wh`).
    """
    if filled_wh <= 0:
        return 0
    return min(ev_wh, local_bought_wh * min(ev_filled_wh, filled_wh) // filled_wh)


def _rounded_div(numerator: int, denominator: int) -> int | None:
    return (2 * numerator + denominator) // (2 * denominator) if denominator > 0 else None


class Report:
    """Accumulates settled slots; `summary()` and `to_json_obj()` read the totals."""

    def __init__(
        self,
        *,
        slot_s: int = 900,
        labels: Mapping[str, str] | None = None,
        currency: str = "EUR",
        timezone: str = PARIS,
        retail: int | None = None,
        feed_in: int | None = None,
    ) -> None:
        self.slot_s = slot_s
        self.labels = dict(labels or {})
        self.currency = currency
        self.timezone = timezone
        self.retail = retail
        self.feed_in = feed_in
        self.households: dict[str, HouseholdTotals] = {
            household: HouseholdTotals() for household in sorted(self.labels)
        }
        self.slots: list[SlotPoint] = []

    def add_slot(
        self,
        slot: int,
        *,
        settlements: Sequence[HouseholdSettlement],
        usage: Mapping[str, HouseholdUsage],
        price: int | None = None,
        disputed: bool = False,
        ev_local_wh: Mapping[str, int] | None = None,
        ledger_bytes: int = 0,
    ) -> None:
        """Add one settled slot.

        `usage` must hold every settled household. `ev_local_wh` is the EV energy each
        household charged from neighbours (the runner splits the settled purchase by the
        agents' fills: `ev_local_wh()`); by default the EV is deemed to take the
        household's local purchases first, so it is min(ev_wh, local_bought_wh), an upper
        bound. `ledger_bytes`: bytes the slot added to the ledger. The slot's matching
        limit is `match_limit_wh(settlements)`.
        """
        if self.slots and slot <= self.slots[-1].slot:
            raise InvalidReportInputError(f"slot {slot} is not after {self.slots[-1].slot}")
        missing = {s.household for s in settlements} - set(usage)
        if missing:
            raise InvalidReportInputError(f"no usage for {sorted(missing)}")
        ev_given = ev_local_wh or {}
        ev_total = local_wh = grid_in = grid_out = paid = 0
        for settled in settlements:
            use = usage[settled.household]
            ev_local = ev_given.get(settled.household, min(use.ev_wh, settled.local_bought_wh))
            self.households.setdefault(settled.household, HouseholdTotals()).add(
                settled, use, ev_local
            )
            ev_total += ev_local
            local_wh += settled.local_bought_wh
            grid_in += settled.grid_import_wh
            grid_out += settled.grid_export_wh
            paid += settled.local_paid
        self.slots.append(
            SlotPoint(
                slot=slot,
                price=price,
                disputed=disputed,
                consumption_wh=sum(usage[s.household].consumption_wh for s in settlements),
                pv_wh=sum(usage[s.household].pv_wh for s in settlements),
                local_wh=local_wh,
                grid_import_wh=grid_in,
                grid_export_wh=grid_out,
                local_paid=paid,
                ev_local_wh=ev_total,
                match_limit_wh=match_limit_wh(settlements),
                ledger_bytes=ledger_bytes,
            )
        )

    def summary(self) -> CommunitySummary:
        """The community's figures over every slot added so far."""
        totals = list(self.households.values())

        def total(name: str) -> int:
            return sum(getattr(t, name) for t in totals)

        consumption, pv = total("consumption_wh"), total("pv_wh")
        imported, exported = total("import_wh"), total("export_wh")
        traded, grid_in = total("local_bought_wh"), total("grid_import_wh")
        limit = sum(p.match_limit_wh for p in self.slots)
        priced = [p for p in self.slots if p.price is not None]
        ledger = sum(p.ledger_bytes for p in self.slots)
        household_days = len(totals) * len(self.slots) * self.slot_s
        return CommunitySummary(
            households=len(totals),
            slots=len(self.slots),
            slot_s=self.slot_s,
            first_slot=self.slots[0].slot if self.slots else None,
            consumption_wh=consumption,
            pv_wh=pv,
            import_wh=imported,
            export_wh=exported,
            local_traded_wh=traded,
            grid_import_wh=grid_in,
            grid_export_wh=total("grid_export_wh"),
            self_sufficiency_permille=ratio_permille(consumption - grid_in, consumption),
            self_sufficiency_own_pv_permille=ratio_permille(consumption - imported, consumption),
            pv_self_consumption_permille=ratio_permille(pv - exported, pv),
            pv_traded_permille=ratio_permille(traded, pv),
            pv_local_share_permille=pv_local_share_permille(pv, exported, total("local_sold_wh")),
            match_limit_wh=limit,
            match_efficiency_permille=ratio_permille(traded, limit),
            average_clearing_price=_rounded_div(
                sum(p.price * p.local_wh for p in priced if p.price is not None),
                sum(p.local_wh for p in priced),
            ),
            average_local_price=_rounded_div(total("local_paid"), traded),
            cost=total("cost"),
            baseline_cost=total("baseline_cost"),
            savings=total("baseline_cost") - total("cost"),
            households_worse_off=sum(t.savings < 0 for t in totals),
            worse_off_slots=total("worse_off_slots"),
            ev_wh=total("ev_wh"),
            ev_local_wh=total("ev_local_wh"),
            ev_local_share_permille=ratio_permille(total("ev_local_wh"), total("ev_wh")),
            disputed_slots=sum(p.disputed for p in self.slots),
            ledger_bytes=ledger,
            ledger_bytes_per_household_per_day=_rounded_div(
                ledger * SECONDS_PER_DAY, household_days
            ),
        )

    def to_json_obj(self, *, with_slots: bool = True) -> dict[str, Any]:
        """The whole report as JSON-ready data (what report.json holds)."""
        return {
            "units": {
                "energy": "Wh",
                "price": "tick = 0.0001 currency/kWh",
                "money": MONEY_UNIT,
                "share": "per mille",
                "time": "Unix s, UTC",
                "currency": self.currency,
            },
            "community": asdict(self.summary()),
            "households": [
                {"id": household, "label": self.labels.get(household, ""), **t.to_json_obj()}
                for household, t in sorted(self.households.items())
            ],
            "slots": [asdict(point) for point in self.slots] if with_slots else [],
        }

    def summary_text(self) -> str:
        """A readable summary in English, for the terminal."""
        s = self.summary()
        cur = self.currency
        lines = [
            f"Simulation: {s.households} households, {s.slots} slots of {s.slot_s} s"
            f" ({days_text(s.slots * s.slot_s)})",
            f"  consumption {kwh_text(s.consumption_wh)}, PV {kwh_text(s.pv_wh)},"
            f" traded between neighbours {kwh_text(s.local_traded_wh)}",
            f"  grid import {kwh_text(s.grid_import_wh)} (without the market"
            f" {kwh_text(s.import_wh)}), grid export {kwh_text(s.grid_export_wh)}",
            f"  self-sufficiency {permille_text(s.self_sufficiency_permille)}"
            f" (own PV only: {permille_text(s.self_sufficiency_own_pv_permille)})",
            f"  PV self-consumed at home {permille_text(s.pv_self_consumption_permille)},"
            f" PV traded to neighbours {permille_text(s.pv_traded_permille)},"
            f" PV used locally {permille_text(s.pv_local_share_permille)}",
            f"  matching limit {kwh_text(s.match_limit_wh)} (min of surplus and deficit,"
            f" slot by slot), match efficiency {permille_text(s.match_efficiency_permille)}",
            f"  average clearing price {price_text(s.average_clearing_price, cur)},"
            f" average local price paid {price_text(s.average_local_price, cur)}",
            f"  community cost {money_text(s.cost, cur)} vs grid only"
            f" {money_text(s.baseline_cost, cur)}: saved {money_text(s.savings, cur)}",
            f"  households worse off: {s.households_worse_off}"
            f" (slots worse off: {s.worse_off_slots})",
            f"  EV charging {kwh_text(s.ev_wh)}, from neighbours {kwh_text(s.ev_local_wh)}"
            f" ({permille_text(s.ev_local_share_permille)})",
            f"  disputed slots: {s.disputed_slots}",
            f"  ledger {s.ledger_bytes} bytes,"
            f" {s.ledger_bytes_per_household_per_day} bytes per household per day",
            "Per household (savings vs grid only, self-sufficiency):",
        ]
        for household, t in sorted(self.households.items()):
            label = f" [{self.labels[household]}]" if household in self.labels else ""
            lines.append(
                f"  {household}{label}: saved {money_text(t.savings, cur)},"
                f" self-sufficiency {permille_text(t.self_sufficiency_permille)}"
            )
        return "\n".join(lines) + "\n"
