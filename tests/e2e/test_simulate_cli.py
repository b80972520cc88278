"""`python -m market simulate` as a user runs it: a report, charts and a summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def test_simulate_writes_its_report_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "report"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "market",
            "simulate",
            "--households",
            "4",
            "--hours",
            "2",
            "--start-hour",
            "11",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "households worse off: 0" in run.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["community"]["households_worse_off"] == 0
    # what the market matched of what it could, and how local the PV and the cars were
    assert "match efficiency" in run.stdout
    assert "PV used locally" in run.stdout
    community = report["community"]
    assert community["local_traded_wh"] <= community["match_limit_wh"]
    for share in ("match_efficiency_permille", "pv_local_share_permille"):
        assert 0 <= community[share] <= 1000
    assert "ev_local_share_permille" in community
    assert len(report["slots"]) == 8
    for chart in ("flows.png", "prices.png", "savings.png"):
        assert (out / chart).read_bytes().startswith(PNG)
