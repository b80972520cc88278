"""A small neighbourhood of real nodes, simulated around midday: deterministic, nobody
worse off, surplus traded, every slot final."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from market.node import DataDir
from market.settlement.period import Period
from market.settlement.statement import household_statement
from market.settlement.store import SettlementStore
from market.sim.runner import SimConfig, simulate
from market.tariff import GridPrices


def _config(work: Path) -> SimConfig:
    return SimConfig(
        households=5,
        hours=2,
        seed=7,
        start=date(2026, 6, 15),
        start_hour=11,
        pv_share=0.4,
        ev_share=0.0,
        battery_share=0.0,
        work_dir=work,
    )


async def test_a_midday_run_trades_surplus_and_is_deterministic(tmp_path: Path) -> None:
    first = await simulate(_config(tmp_path / "a"))
    second = await simulate(_config(tmp_path / "b"))
    assert json.dumps(first.to_json_obj()) == json.dumps(second.to_json_obj())

    summary = first.summary()
    assert len(first.slots) == 8
    assert summary.households_worse_off == 0
    assert not any(point.disputed for point in first.slots)
    traded = sum(point.local_wh for point in first.slots)
    assert traded > 0
    prices = [point.price for point in first.slots if point.price is not None]
    assert prices and all(400 <= price <= 1952 for price in prices)
    assert sum(point.ledger_bytes for point in first.slots) > 0


async def test_each_households_statement_is_what_the_report_says(tmp_path: Path) -> None:
    """The report comes from the nodes' agreed settlement: every household's own
    statement, read back from its node's store, matches it to the Wh and the tick."""
    config = _config(tmp_path)
    report = await simulate(config)
    period = Period.day(config.start)
    reference = GridPrices(config.terms.ceiling, config.terms.floor)
    for spec_id, totals in report.households.items():
        data = DataDir(tmp_path / spec_id)
        store = SettlementStore.in_dir(data.path, read_only=True)
        try:
            slots, own = store.slots(period.start, period.end), store.own(period.start, period.end)
        finally:
            store.close()
        key = data.identity().public_key.hex()
        statement = household_statement(period, slots, own, key, reference=reference)
        assert statement.slots.final + statement.slots.no_trades == len(report.slots)
        assert statement.reference_priced_slots == 0
        got = statement.totals
        assert (got.import_wh, got.export_wh) == (totals.import_wh, totals.export_wh)
        assert (got.local_bought_wh, got.local_sold_wh) == (
            totals.local_bought_wh,
            totals.local_sold_wh,
        )
        assert (got.local_paid, got.local_received) == (totals.local_paid, totals.local_received)
        assert (got.grid_paid, got.grid_received) == (totals.grid_paid, totals.grid_received)
        assert got.baseline_cost == totals.baseline_cost
        assert got.savings == totals.savings
