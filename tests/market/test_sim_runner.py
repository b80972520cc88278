"""A small neighbourhood of real nodes, simulated around midday: deterministic, nobody
worse off, surplus traded, every slot final."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from market.sim.runner import SimConfig, simulate


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
