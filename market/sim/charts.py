"""PNG charts of a report, drawn with matplotlib's Agg canvas.

matplotlib is imported inside each function: the engine runs on nodes that never draw,
and importing it costs a second. Figures are built on their own Agg canvas rather than
through pyplot, so drawing never touches a global backend or figure registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..localtime import SECONDS_PER_DAY
from ..units import to_price
from .report import Report
from .units import UNITS_PER_CENT

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FLOWS_PNG = "flows.png"
PRICES_PNG = "prices.png"
SAVINGS_PNG = "savings.png"


def _figure(width: float = 10.0, height: float = 4.5) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _times(report: Report) -> list[float]:
    """Slot starts as matplotlib date numbers: days since its default 1970 epoch."""
    return [point.slot / SECONDS_PER_DAY for point in report.slots]


def _mean_kw(energies: Sequence[int], slot_s: int) -> list[float]:
    # Mean power over the slot reads the same whatever the slot length.
    return [energy * 3.6 / slot_s for energy in energies]


def _time_axis(axes: Axes, report: Report) -> None:
    axes.xaxis_date(ZoneInfo(report.timezone))
    axes.grid(alpha=0.3)
    axes.tick_params(axis="x", labelrotation=30, labelsize="small")


def plot_flows(report: Report, path: Path) -> Path:
    """Community load, PV, energy traded between neighbours and grid flows over time."""
    figure = _figure()
    axes = figure.add_subplot()
    times, points, slot_s = _times(report), report.slots, report.slot_s
    series = (
        ("load", [p.consumption_wh for p in points], "tab:red"),
        ("PV", [p.pv_wh for p in points], "tab:orange"),
        ("traded locally", [p.local_wh for p in points], "tab:green"),
        ("grid import", [p.grid_import_wh for p in points], "tab:blue"),
        ("grid export", [p.grid_export_wh for p in points], "tab:purple"),
    )
    for label, energies, colour in series:
        axes.plot(times, _mean_kw(energies, slot_s), label=label, color=colour, linewidth=1.0)
    axes.set_ylabel("mean power over the slot (kW)")
    axes.set_title("Community energy flows")
    axes.legend(loc="upper left", ncols=5, fontsize="small")
    _time_axis(axes, report)
    figure.savefig(path, format="png")
    return path


def plot_prices(report: Report, path: Path) -> Path:
    """Clearing price per slot, with the grid's retail and feed-in prices for scale."""
    figure = _figure()
    axes = figure.add_subplot()
    times = _times(report)
    per_kwh = [None if p.price is None else to_price(p.price) for p in report.slots]
    axes.step(times, [float("nan") if v is None else v for v in per_kwh], where="post",
              label="clearing price", color="tab:green")  # fmt: skip
    disputed = [t for t, p in zip(times, report.slots, strict=True) if p.disputed]
    if disputed:
        axes.plot(disputed, [0.0] * len(disputed), "x", color="tab:red", label="disputed slot")
    for value, label, style in ((report.retail, "retail", "--"), (report.feed_in, "feed-in", ":")):
        if value is not None:
            axes.axhline(to_price(value), linestyle=style, color="grey", label=label)
    axes.set_ylim(bottom=0.0)
    axes.set_ylabel(f"{report.currency}/kWh")
    axes.set_title("Local clearing price")
    axes.legend(loc="upper left", fontsize="small")
    _time_axis(axes, report)
    figure.savefig(path, format="png")
    return path


def plot_savings(report: Report, path: Path) -> Path:
    """Savings per household against the grid alone, one bar each."""
    households = sorted(report.households)
    figure = _figure(max(6.0, 0.3 * len(households) + 2.0), 4.5)
    axes = figure.add_subplot()
    savings = [report.households[h].savings / UNITS_PER_CENT / 100 for h in households]
    colours = ["tab:green" if value >= 0 else "tab:red" for value in savings]
    axes.bar(households, savings, color=colours)
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_ylabel(f"saved vs grid only ({report.currency})")
    axes.set_title("Savings per household")
    axes.tick_params(axis="x", labelrotation=90, labelsize="small")
    axes.grid(axis="y", alpha=0.3)
    figure.savefig(path, format="png")
    return path


def draw_charts(report: Report, directory: Path) -> list[Path]:
    """All charts of the report into `directory` (created if missing); their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        plot_flows(report, directory / FLOWS_PNG),
        plot_prices(report, directory / PRICES_PNG),
        plot_savings(report, directory / SAVINGS_PNG),
    ]
