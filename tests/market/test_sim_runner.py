"""A small neighbourhood of real nodes, simulated around midday: deterministic, nobody
worse off, surplus traded, every slot final."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

from market.node import DataDir
from market.settlement.period import Period
from market.settlement.statement import household_statement
from market.settlement.store import SettlementStore
from market.sim.runner import Neighbourhood, SimConfig, simulate
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


async def test_a_teleworkers_car_charges_at_midday_within_the_matching_limit(
    tmp_path: Path,
) -> None:
    """Seed 4's teleworker (h04) is at home on Monday 15 June 2026: its car charges on
    the midday surplus, partly bought from neighbours; what is traded stays within the
    slot-by-slot matching limit and the car's local energy within its purchases."""
    config = dataclasses.replace(
        _config(tmp_path), seed=4, pv_share=0.6, ev_share=0.4, battery_share=0.0
    )
    report = await simulate(config)
    assert "teleworker" in report.labels["h04"]
    teleworker = report.households["h04"]
    assert teleworker.ev_wh > 0
    assert 0 < teleworker.ev_local_wh <= min(teleworker.ev_wh, teleworker.local_bought_wh)
    for point in report.slots:
        assert point.local_wh <= point.match_limit_wh
    summary = report.summary()
    assert 0 < summary.local_traded_wh <= summary.match_limit_wh
    assert summary.match_efficiency_permille is not None
    assert summary.ev_local_share_permille is not None
    assert 0 < summary.ev_local_share_permille <= 1000
    local, at_home = summary.pv_local_share_permille, summary.pv_self_consumption_permille
    assert local is not None and at_home is not None
    assert local > at_home  # some PV was sold to neighbours


async def test_a_car_with_a_daytime_and_an_evening_session_gets_an_agent_for_each(
    tmp_path: Path,
) -> None:
    """Seed 121's teleworker (h02) is plugged in on 15 June 2026 from 08:56 to 16:03 and
    again from 16:18: the runner gives each session its own EV agent, one at a time."""
    config = dataclasses.replace(
        _config(tmp_path), seed=121, start_hour=15, pv_share=0.6, ev_share=0.4, battery_share=0.0
    )
    neighbourhood = Neighbourhood(config)
    spec = next(s for s in neighbourhood.specs if s.id == "h02")
    daytime, evening = spec.ev_sessions(config.start)
    assert daytime.departure < evening.arrival
    seen: list[tuple[str, ...]] = []
    try:
        await neighbourhood.open()
        home = next(h for h in neighbourhood.homes if h.spec.id == "h02")
        neighbourhood.on_slot.append(lambda _slot: seen.append(tuple(home.ev_agents.values())))
        report = await neighbourhood.run()
        agents = home.node.agent_ids()
    finally:
        await neighbourhood.close()
    assert all(len(current) <= 1 for current in seen)
    assert (f"ev{daytime.arrival}",) in seen
    assert seen[-1] == (f"ev{evening.arrival}",)
    assert f"ev{daytime.arrival}" not in agents
    assert f"ev{evening.arrival}" in agents
    assert report.households["h02"].ev_wh > 0
