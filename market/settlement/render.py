"""Statements for people: a table to read and CSV for a spreadsheet, with money in
currency units (market.units.to_money). JSON keeps the integers; only these renderings
round, and only for display.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from ..localtime import PARIS
from ..units import to_kwh, to_money
from .acc import ACC_DIGITS, AccKeys
from .certificates import CERTIFICATE_WH, Certificate
from .statement import (
    METERS_NOTE,
    REFERENCE_NOTE,
    CommunityStatement,
    HouseholdStatement,
    Ratio,
)

ACC_DELIMITER = ";"
ID_SHOWN = 16


def local_iso(t: int, zone: str = PARIS) -> str:
    """Unix time `t` as ISO 8601 local time with its offset (unambiguous across DST)."""
    return dt.datetime.fromtimestamp(t, ZoneInfo(zone)).isoformat()


def percent(basis_points: int | None) -> str:
    """Basis points as a percentage with two decimals, exactly; empty for none."""
    if basis_points is None:
        return ""
    return f"{basis_points // 100}.{basis_points % 100:02d}"


def _money(amount: int, decimals: int) -> str:
    return f"{to_money(amount):.{decimals}f}"


def _kwh(wh: int) -> str:
    return f"{to_kwh(wh):.3f}"


def _rate(ratio: Ratio) -> str:
    shown = percent(ratio.basis_points)
    if not shown:
        return "n/a (no consumption)"
    return f"{shown} % ({ratio.numerator_wh} / {ratio.denominator_wh} Wh)"


def household_table(statement: HouseholdStatement, currency: str) -> str:
    """A household's statement as text to read."""
    s, t = statement, statement.totals
    c = s.slots
    lines = [
        f"Statement of {s.period.label} ({s.period.kind}) for household {s.household[:ID_SHOWN]}",
        f"Slots: {c.final} final, {c.no_trades} without trades, {c.disputed} disputed, "
        f"{c.unmeasured} without a reading",
        "",
        f"{'':<28}{'kWh':>12}{currency:>12}",
        f"{'Bought from neighbours':<28}{_kwh(t.local_bought_wh):>12}{_money(t.local_paid, 2):>12}",
        f"{'Sold to neighbours':<28}{_kwh(t.local_sold_wh):>12}{_money(t.local_received, 2):>12}",
        f"{'Bought from the grid':<28}{_kwh(t.grid_import_wh):>12}{_money(t.grid_paid, 2):>12}",
        f"{'Sold to the grid':<28}{_kwh(t.grid_export_wh):>12}{_money(t.grid_received, 2):>12}",
        f"{'Metered import':<28}{_kwh(t.import_wh):>12}",
        f"{'Metered export':<28}{_kwh(t.export_wh):>12}",
        "",
        f"{'Cost (net)':<28}{'':>12}{_money(t.cost, 2):>12}",
        f"{'Grid-only cost':<28}{'':>12}{_money(t.baseline_cost, 2):>12}",
        f"{'Savings':<28}{'':>12}{_money(t.savings, 2):>12}",
        "",
        f"Local energy usage rate: {_rate(s.usage_rate)}",
    ]
    if s.pv_wh is not None:
        lines.append(f"PV production (sensor): {_kwh(s.pv_wh)} kWh")
    lines.append(
        f"Green certificates: {s.certificates.earned} earned, "
        f"{_kwh(s.certificates.carried_wh)} kWh of {_kwh(CERTIFICATE_WH)} toward the next"
    )
    if s.reference_priced_slots:
        lines.append(
            f"{s.reference_priced_slots} slots had no own prices recorded: "
            "priced at the community's reference prices"
        )
    if c.disputed:
        p = s.provisional
        lines += [
            "",
            "Disputed slots, provisional (not in the totals, the savings or the usage rate):",
            f"  bought {_kwh(p.local_bought_wh)} kWh for {_money(p.local_paid, 2)} {currency}, "
            f"sold {_kwh(p.local_sold_wh)} kWh for {_money(p.local_received, 2)} {currency}",
        ]
    return "\n".join(lines) + "\n"


def community_table(statement: CommunityStatement, currency: str) -> str:
    """The community's statement as text to read."""
    s = statement
    rates = s.usage_rates_bp
    lines = [
        f"Community statement of {s.period.label} ({s.period.kind}): {s.members} members",
        f"Slots: {s.slots_final} final, {s.slots_no_trades} without trades, "
        f"{s.slots_disputed} disputed; {s.readings_missing} readings missing",
        "",
        f"Metered import / export:     {_kwh(s.import_wh)} / {_kwh(s.export_wh)} kWh",
        f"Traded locally:              {_kwh(s.local_wh)} kWh, "
        f"paid {_money(s.local_paid, 2)} {currency}, "
        f"received {_money(s.local_received, 2)} {currency}",
        f"Self-sufficiency:            {_rate(s.self_sufficiency)}",
        f"Exported PV traded locally:  {_rate(s.export_traded)}",
        f"Savings (estimate):          {_money(s.savings_at_reference, 2)} {currency}",
        "Members' usage rates:        "
        + (
            f"min {percent(rates[0])} %, median {percent(_median(rates))} %, "
            f"max {percent(rates[-1])} % ({len(rates)} members)"
            if rates
            else "n/a"
        ),
        f"Green certificates earned:   {s.certificates_earned}",
    ]
    if s.slots_disputed:
        lines.append(f"Disputed: {_kwh(s.provisional_local_wh)} kWh traded, provisional")
    lines += ["", f"Note: {REFERENCE_NOTE}.", f"Note: {METERS_NOTE}."]
    return "\n".join(lines) + "\n"


def _median(sorted_values: Sequence[int]) -> int:
    # The lower middle value: an integer that is one member's own rate.
    return sorted_values[(len(sorted_values) - 1) // 2]


def _csv(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


_HOUSEHOLD_COLUMNS: tuple[tuple[str, Callable[[HouseholdStatement], int | None], bool], ...] = (
    ("final_slots", lambda s: s.slots.final, False),
    ("no_trades_slots", lambda s: s.slots.no_trades, False),
    ("disputed_slots", lambda s: s.slots.disputed, False),
    ("unmeasured_slots", lambda s: s.slots.unmeasured, False),
    ("import_wh", lambda s: s.totals.import_wh, False),
    ("export_wh", lambda s: s.totals.export_wh, False),
    ("local_bought_wh", lambda s: s.totals.local_bought_wh, False),
    ("local_sold_wh", lambda s: s.totals.local_sold_wh, False),
    ("grid_import_wh", lambda s: s.totals.grid_import_wh, False),
    ("grid_export_wh", lambda s: s.totals.grid_export_wh, False),
    ("local_paid", lambda s: s.totals.local_paid, True),
    ("local_received", lambda s: s.totals.local_received, True),
    ("grid_paid", lambda s: s.totals.grid_paid, True),
    ("grid_received", lambda s: s.totals.grid_received, True),
    ("cost", lambda s: s.totals.cost, True),
    ("baseline_cost", lambda s: s.totals.baseline_cost, True),
    ("savings", lambda s: s.totals.savings, True),
    ("pv_wh", lambda s: s.pv_wh, False),
    ("usage_local_wh", lambda s: s.usage_rate.numerator_wh, False),
    ("usage_consumption_wh", lambda s: s.usage_rate.denominator_wh, False),
    ("certificates_earned", lambda s: s.certificates.earned, False),
    ("certificate_carried_wh", lambda s: s.certificates.carried_wh, False),
    ("disputed_local_bought_wh", lambda s: s.provisional.local_bought_wh, False),
    ("disputed_local_sold_wh", lambda s: s.provisional.local_sold_wh, False),
    ("disputed_local_paid", lambda s: s.provisional.local_paid, True),
    ("disputed_local_received", lambda s: s.provisional.local_received, True),
)


def _cell(value: int | None, money: bool) -> str:
    if value is None:
        return ""
    return _money(value, 4) if money else str(value)


def household_csv(statements: Sequence[HouseholdStatement], currency: str) -> str:
    """One row per statement (a month's days, then the month): Wh as integers, money in
    currency units with 4 decimals, the usage rate in percent."""
    unit = currency.lower()
    header = ["period"]
    for name, _, money in _HOUSEHOLD_COLUMNS:
        header.append(f"{name}_{unit}" if money else name)
    header.append("usage_rate_pct")
    rows = [
        [s.period.label]
        + [_cell(value(s), money) for _, value, money in _HOUSEHOLD_COLUMNS]
        + [percent(s.usage_rate.basis_points)]
        for s in statements
    ]
    return _csv(header, rows)


def community_csv(statements: Sequence[CommunityStatement], currency: str) -> str:
    """One row per statement (a month's days, then the month)."""
    unit = currency.lower()
    header = [
        "period",
        "final_slots",
        "no_trades_slots",
        "disputed_slots",
        "readings_missing",
        "members",
        "import_wh",
        "export_wh",
        "local_wh",
        f"local_paid_{unit}",
        f"local_received_{unit}",
        "self_sufficiency_pct",
        "export_traded_pct",
        f"savings_at_reference_{unit}",
        "usage_rate_min_pct",
        "usage_rate_median_pct",
        "usage_rate_max_pct",
        "certificates_earned",
        "disputed_local_wh",
    ]
    rows = []
    for s in statements:
        rates = s.usage_rates_bp
        low, mid, high = (rates[0], _median(rates), rates[-1]) if rates else (None, None, None)
        rows.append(
            [
                s.period.label,
                *map(str, (s.slots_final, s.slots_no_trades, s.slots_disputed)),
                *map(str, (s.readings_missing, s.members, s.import_wh, s.export_wh, s.local_wh)),
                _money(s.local_paid, 4),
                _money(s.local_received, 4),
                percent(s.self_sufficiency.basis_points),
                percent(s.export_traded.basis_points),
                _money(s.savings_at_reference, 4),
                percent(low),
                percent(mid),
                percent(high),
                str(s.certificates_earned),
                str(s.provisional_local_wh),
            ]
        )
    return _csv(header, rows)


_CERTIFICATE_HEADER = ["producer", "serial", "first_slot", "last_slot", "wh", "proof"]


def certificates_csv(certificates: Sequence[Certificate], zone: str = PARIS) -> str:
    """One row per certificate, slots as local ISO times."""
    rows = [
        [
            c.producer,
            str(c.serial),
            local_iso(c.first_slot, zone),
            local_iso(c.last_slot, zone),
            str(c.wh),
            c.proof.hex(),
        ]
        for c in certificates
    ]
    return _csv(_CERTIFICATE_HEADER, rows)


def certificates_table(certificates: Sequence[Certificate], zone: str = PARIS) -> str:
    """The certificates as text to read."""
    if not certificates:
        return "No green certificate.\n"
    lines = [f"{'producer':<18}{'#':>4}  {'from':<26}{'to':<26}proof"]
    lines += [
        f"{c.producer[:ID_SHOWN]:<18}{c.serial:>4}  {local_iso(c.first_slot, zone):<26}"
        f"{local_iso(c.last_slot, zone):<26}{c.proof.hex()[:ID_SHOWN]}"
        for c in certificates
    ]
    return "\n".join(lines) + "\n"


def unmapped_label(household: str) -> str:
    """What stands for a consumer the organiser's file does not map: a key prefix,
    never something that could pass for a PRM."""
    return f"key:{household[:ID_SHOWN]}"


def acc_csv(
    keys: AccKeys,
    identifiers: Mapping[str, str],
    *,
    digits: int = ACC_DIGITS,
    zone: str = PARIS,
) -> str:
    """The keys as the PMO's CSV: `Horodate;Identifiant;Coefficient`, one row per step
    and participant, the step's start in local ISO time, semicolons between fields and
    a decimal comma (the French spreadsheet convention the organisers' tools use)."""
    rows = sorted(
        (
            key.step,
            identifiers.get(key.consumer, unmapped_label(key.consumer)),
            key.coefficient(digits).replace(".", ","),
        )
        for key in keys.keys
    )
    rows_out = [[local_iso(step, zone), who, value] for step, who, value in rows]
    return _csv(["Horodate", "Identifiant", "Coefficient"], rows_out, ACC_DELIMITER)
