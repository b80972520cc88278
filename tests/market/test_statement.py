"""Statements: a household's and the community's day and month, from settled slots."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings

from market.localtime import local_time_utc
from market.model import Side
from market.settlement.period import Period, PeriodKind
from market.settlement.public import priced
from market.settlement.records import OwnSlot, SettleState
from market.settlement.statement import (
    DISPUTED_NOTE,
    CertificateCount,
    Ratio,
    Totals,
    community_statement,
    household_statement,
)
from market.tariff import GridPrices
from tests.market.settled_slots import (
    HOUSEHOLDS,
    REFERENCE,
    SLOT_S,
    Scenario,
    Trade,
    scenarios,
    settled,
)

A, B = HOUSEHOLDS[0], HOUSEHOLDS[1]
DAY = dt.date(2025, 6, 14)
NOON = local_time_utc(DAY, 12 * 3600)  # 10:00 UTC in summer
MARCH = Period.month(2025, 3)  # 31 days, the spring DST switch on the 30th
MARCH_SLOTS = range(MARCH.start, MARCH.end, SLOT_S)
OWN = GridPrices(2081, 400)


def example() -> tuple[list, dict[int, OwnSlot]]:
    """Two households, three slots of 14 June 2025 (docs/settlement.md, worked example).

    12:00 FINAL: a imports 1000 Wh and bought 600 at 1000 ticks; b exports 800 and sold
    600 at 1000. 12:15 DISPUTED: a bought 300 more at 1100. 12:30 NO_TRADES: a imports
    500, b exports 900. a's own tariff is 2081 / 400 in all three; b's PV made 1500 Wh
    at 12:00 (its own store, not a's).
    """
    slots = [
        settled(
            NOON,
            {A: (1000, 0), B: (100, 800)},
            [Trade(A, Side.BUY, 600, 1000), Trade(B, Side.SELL, 600, 1000)],
        ),
        settled(
            NOON + SLOT_S,
            {A: (400, 0), B: (0, 500)},
            [Trade(A, Side.BUY, 300, 1100), Trade(B, Side.SELL, 300, 1100)],
            SettleState.DISPUTED,
        ),
        settled(NOON + 2 * SLOT_S, {A: (500, 0), B: (0, 900)}),
    ]
    own = {slot.slot: OwnSlot(slot.slot, OWN) for slot in slots}
    return slots, own


def test_worked_example_household() -> None:
    slots, own = example()
    statement = household_statement(Period.day(DAY), slots, own, A, reference=REFERENCE)
    t = statement.totals
    assert dataclasses.asdict(statement.slots) == {
        "final": 1,
        "no_trades": 1,
        "disputed": 1,
        "unmeasured": 0,
    }
    assert (t.import_wh, t.local_bought_wh, t.grid_import_wh) == (1500, 600, 900)
    assert t.local_paid == 600 * 1000
    assert t.grid_paid == 900 * 2081
    assert t.cost == 2_472_900  # 0.24729 EUR
    assert t.baseline_cost == 1500 * 2081  # 3_121_500
    assert t.savings == 648_600  # 600 Wh at 2081 instead of 1000
    assert statement.usage_rate == Ratio(600, 1500)
    assert statement.usage_rate.basis_points == 4000
    # the disputed slot: apart, provisional
    assert statement.provisional.local_bought_wh == 300
    assert statement.provisional.local_paid == 330_000
    assert statement.to_json_obj()["disputed"]["note"] == DISPUTED_NOTE
    assert statement.to_json_obj()["totals"]["savings"] == 648_600


def test_pv_used_at_home_counts_as_local_in_the_usage_rate() -> None:
    slots, _ = example()
    own = {NOON: OwnSlot(NOON, GridPrices(2081, 400), pv_wh=1500)}
    statement = household_statement(Period.day(DAY), slots[:1], own, B, reference=REFERENCE)
    # b used 1500 - 800 = 700 Wh of its PV and imported 100: 700 of 800 were local
    assert statement.usage_rate == Ratio(700, 800)
    assert statement.usage_rate.basis_points == 8750
    assert statement.pv_wh == 1500
    assert statement.totals.savings == 600 * (1000 - 400)


def test_pv_below_the_export_counts_as_none_used() -> None:
    slots, _ = example()
    own = {NOON: OwnSlot(NOON, GridPrices(2081, 400), pv_wh=500)}
    statement = household_statement(Period.day(DAY), slots[:1], own, B, reference=REFERENCE)
    assert statement.usage_rate == Ratio(0, 100)


def test_slots_without_own_prices_are_priced_at_the_reference_and_counted() -> None:
    slots, _ = example()
    statement = household_statement(Period.day(DAY), slots, {}, A, reference=REFERENCE)
    assert statement.reference_priced_slots == 2
    assert statement.totals.baseline_cost == 1500 * REFERENCE.buy


def test_a_household_without_reading_is_counted_unmeasured() -> None:
    slots, own = example()
    statement = household_statement(Period.day(DAY), slots, own, HOUSEHOLDS[2], reference=REFERENCE)
    assert statement.slots.unmeasured == 2
    assert statement.slots.disputed == 1
    assert statement.totals == Totals()
    assert statement.usage_rate.basis_points is None


def test_worked_example_community() -> None:
    slots, _ = example()
    statement = community_statement(Period.day(DAY), slots, reference=REFERENCE)
    assert (statement.slots_final, statement.slots_no_trades, statement.slots_disputed) == (
        1,
        1,
        1,
    )
    assert statement.members == 2
    assert (statement.import_wh, statement.export_wh, statement.local_wh) == (1600, 1700, 600)
    assert statement.self_sufficiency.basis_points == 3750
    assert statement.export_traded.basis_points == 3529
    # a: 600 Wh at 1952 instead of 1000; b: 600 Wh at 1000 instead of 400
    assert statement.savings_at_reference == 600 * 952 + 600 * 600
    assert statement.usage_rates_bp == (0, 4000)
    assert statement.provisional_local_wh == 300
    obj = statement.to_json_obj()
    assert "household" not in obj
    assert A not in str(obj)
    assert B not in str(obj)


def test_certificate_count_of_the_period() -> None:
    assert CertificateCount.of(0, 999_999) == CertificateCount(0, 999_999)
    assert CertificateCount.of(999_999, 1) == CertificateCount(1, 0)
    assert CertificateCount.of(1_500_000, 2_600_000) == CertificateCount(3, 100_000)


def test_a_month_has_its_local_days() -> None:
    days = MARCH.days()
    assert len(days) == 31
    assert days[0].start == MARCH.start
    assert days[-1].end == MARCH.end
    assert days[29].end - days[29].start == 23 * 3600  # the DST switch
    assert all(d.kind is PeriodKind.DAY for d in days)
    assert Period.parse("2025-03") == MARCH
    assert Period.parse("2025-06-14") == Period.day(DAY)


# ---------------------------------------------------------------- properties


def _verified_rows(scenario: Scenario, household: str) -> list:
    rows = []
    for s in scenario.slots:
        row = s.row(household)
        if s.verified and row is not None:
            mine = scenario.own.get(s.slot)
            rows.append(priced(row, REFERENCE if mine is None else mine.prices))
    return rows


@settings(max_examples=150, deadline=None)
@given(scenarios(MARCH_SLOTS))
def test_statement_totals_are_the_sums_of_the_slots_rows(scenario: Scenario) -> None:
    for household in HOUSEHOLDS:
        statement = household_statement(
            MARCH, scenario.slots, scenario.own, household, reference=REFERENCE
        )
        rows = _verified_rows(scenario, household)
        t = statement.totals
        assert t.local_bought_wh == sum(r.local_bought_wh for r in rows)
        assert t.local_sold_wh == sum(r.local_sold_wh for r in rows)
        assert t.grid_import_wh == sum(r.grid_import_wh for r in rows)
        assert t.grid_export_wh == sum(r.grid_export_wh for r in rows)
        assert t.local_paid == sum(r.local_paid for r in rows)
        assert t.local_received == sum(r.local_received for r in rows)
        assert t.cost == sum(r.cost for r in rows)
        assert t.baseline_cost == sum(r.baseline_cost for r in rows)
        assert t.savings == sum(r.savings for r in rows)
        c = statement.slots
        assert c.final + c.no_trades + c.disputed + c.unmeasured == len(scenario.slots)
        assert 0 <= statement.usage_rate.numerator_wh <= statement.usage_rate.denominator_wh


@settings(max_examples=150, deadline=None)
@given(scenarios(MARCH_SLOTS))
def test_the_community_bought_locally_what_it_sold_locally(scenario: Scenario) -> None:
    statement = community_statement(MARCH, scenario.slots, reference=REFERENCE)
    assert statement.local_wh == statement.export_traded.numerator_wh
    assert statement.local_wh <= min(statement.import_wh, statement.export_wh)
    assert list(statement.usage_rates_bp) == sorted(statement.usage_rates_bp)
    assert all(0 <= rate <= 10_000 for rate in statement.usage_rates_bp)


@settings(max_examples=150, deadline=None)
@given(scenarios(MARCH_SLOTS, within_bounds=True))
def test_no_savings_below_zero_when_prices_lie_within_the_own_tariff(
    scenario: Scenario,
) -> None:
    statement = household_statement(
        MARCH, scenario.slots, scenario.own, HOUSEHOLDS[0], reference=REFERENCE
    )
    assert statement.totals.savings >= 0


@settings(max_examples=100, deadline=None)
@given(scenarios(MARCH_SLOTS, max_slots=40, max_wh=400_000))
def test_the_days_of_a_month_add_up_to_the_month(scenario: Scenario) -> None:
    for household in HOUSEHOLDS[:2]:
        month = household_statement(
            MARCH, scenario.slots, scenario.own, household, reference=REFERENCE
        )
        days = [
            household_statement(
                day,
                scenario.slots,
                scenario.own,
                household,
                reference=REFERENCE,
                delivered_before_wh=sum(
                    r.local_sold_wh
                    for s in scenario.slots
                    if s.slot < day.start and s.state is SettleState.FINAL
                    for r in s.rows
                    if r.household == household
                ),
            )
            for day in MARCH.days()
        ]
        total = Totals()
        for day in days:
            total += day.totals
        assert total == month.totals
        assert total.savings == month.totals.savings
        assert sum(d.usage_rate.numerator_wh for d in days) == month.usage_rate.numerator_wh
        assert sum(d.usage_rate.denominator_wh for d in days) == month.usage_rate.denominator_wh
        assert sum(d.certificates.earned for d in days) == month.certificates.earned
        assert days[-1].certificates.carried_wh == month.certificates.carried_wh
        for name in ("final", "no_trades", "disputed", "unmeasured"):
            assert sum(getattr(d.slots, name) for d in days) == getattr(month.slots, name)
        assert sum(d.provisional.local_bought_wh for d in days) == (
            month.provisional.local_bought_wh
        )
    community_month = community_statement(MARCH, scenario.slots, reference=REFERENCE)
    community_days = [
        community_statement(d, scenario.slots, reference=REFERENCE) for d in MARCH.days()
    ]
    assert sum(d.local_wh for d in community_days) == community_month.local_wh
    assert sum(d.import_wh for d in community_days) == community_month.import_wh
    assert sum(d.savings_at_reference for d in community_days) == (
        community_month.savings_at_reference
    )
