"""`make demo`, short: a real Home Assistant household trades with headless neighbours,
its entities show the trades, and the EV blueprint charges in the slots it bought."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hass_process import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def test_a_short_demo_trades_in_home_assistant_and_charges_the_ev(tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.demo",
            "--households",
            "3",
            "--hours",
            "2",
            "--speed",
            "200",
            "--start-hour",
            "10",
            "--port",
            str(free_port()),
            "--dir",
            str(tmp_path / "demo"),
            "--summary",
            str(summary_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Home Assistant is up: http://" in run.stdout
    assert "password:" in run.stdout
    assert "demo stopped cleanly" in run.stdout
    summary = json.loads(summary_path.read_text())
    assert summary["problems"] == []
    states = summary["states"]
    # the Home Assistant household traded, and its entities say so
    bought = float(states["sensor.maison_demo_energy_bought_today"])
    sold = float(states["sensor.maison_demo_energy_sold_today"])
    assert bought > 0
    assert float(states["sensor.maison_demo_spent_today"]) > 0
    assert bought + sold > 0
    # settled on the meters: today's savings and usage rate are its statement's
    statement = summary["statement"]["statement"]
    totals = statement["totals"]
    assert totals["local_bought_wh"] > 0
    savings = float(states["sensor.maison_demo_savings_today"])
    assert savings == pytest.approx(totals["savings"] * 1e-7, abs=0.005)
    assert totals["savings"] > 0
    rate = statement["usage_rate"]["basis_points"]
    assert float(states["sensor.maison_demo_local_energy_usage_rate_today"]) == rate / 100
    # the EV blueprint switched the charger on in the slots bought from neighbours for
    # the car (not in those the consumption buyer bought the base load in)
    end = (
        max(
            [end for _start, end in summary["bought_intervals"] if end is not None]
            + [start for start, _end in summary["bought_intervals"]]
            + [start for start, _end in summary["charger_intervals"]]
        )
        + 1.0
    )
    bought_on = [(s, e if e is not None else end) for s, e in summary["bought_intervals"]]
    charger_on = [(s, e if e is not None else end) for s, e in summary["charger_intervals"]]
    assert bought_on and charger_on
    bought_s = sum(e - s for s, e in bought_on)
    together_s = sum(_overlap(b, c) for b in bought_on for c in charger_on)
    charger_s = sum(e - s for s, e in charger_on)
    # the automation follows the sensor within a poll or two
    assert together_s >= 0.8 * bought_s
    assert together_s >= 0.8 * charger_s
