"""The `agents` subcommands: the ramp table and the EV planner as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from market.agents import cli
from tests.market.test_agents_support import HOUR, MIDNIGHT


def run(argv: list[str]) -> int:
    """Parse `argv` like `python -m market` does once `agents` is registered."""
    parser = argparse.ArgumentParser(prog="python -m market")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_ramp_prints_the_staircase(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["agents", "ramp", "--side", "sell", "--grid-fee", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "seconds_before_gate\tprice"
    prices = [int(line.split("\t")[1]) for line in lines[1:]]
    assert prices[0] == 1852
    assert prices[-1] == 400
    assert prices == sorted(prices, reverse=True)


def test_ramp_refuses_terms_no_community_could_have(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["agents", "ramp", "--side", "buy", "--slot-s", "7"]) == 1
    assert "error: slot_s: an integer in [60, 86400] (got 7)" in capsys.readouterr().err


def test_ev_plan_prints_the_schedule_with_expected_prices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = MIDNIGHT + 18 * HOUR
    cheap = now + 4 * HOUR
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({str(cheap): 900, str(cheap + 900): 950}))
    argv = ["agents", "ev-plan", "--now", str(now), "--departure", str(now + 6 * HOUR)]
    argv += ["--energy-wh", "3000", "--max-price", "1500", "--prices", str(prices)]
    assert run(argv) == 0
    schedule = json.loads(capsys.readouterr().out)
    assert [entry["slot"] for entry in schedule["slots"]] == [cheap, cheap + 900]
    assert schedule["planned_wh"] == 3000
    assert schedule["grid_slots"] == []


def test_ev_plan_refuses_min_power_above_max(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["agents", "ev-plan", "--now", "0", "--departure", "3600", "--energy-wh", "1"]
    argv += ["--max-price", "1", "--min-power-w", "4100", "--max-power-w", "3700"]
    assert run(argv) == 1
    assert "(4100, 3700)" in capsys.readouterr().err


def test_ev_plan_reports_an_unreadable_price_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text("[1, 2]")
    argv = ["agents", "ev-plan", "--now", "0", "--departure", "3600", "--energy-wh", "1"]
    argv += ["--max-price", "1", "--prices", str(bad)]
    assert run(argv) == 1
    assert "error:" in capsys.readouterr().err
