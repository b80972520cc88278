"""Charts are real PNG files, drawn without touching pyplot's global state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from market.sim.charts import draw_charts, plot_prices
from market.sim.report import Report
from tests.market.test_sim_report import scenario

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# matplotlib 3.10 still calls pyparsing's camelCase names; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_every_chart_is_a_non_empty_png(tmp_path: Path) -> None:
    paths = draw_charts(scenario(), tmp_path / "charts")
    assert [p.name for p in paths] == ["flows.png", "prices.png", "savings.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 5_000
    assert "matplotlib.pyplot" not in sys.modules


def test_a_report_without_prices_still_draws(tmp_path: Path) -> None:
    path = plot_prices(Report(feed_in=400), tmp_path / "prices.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_the_engine_does_not_import_matplotlib_until_drawing() -> None:
    code = "import sys, market.sim, market.sim.charts; print('matplotlib' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
