"""Simulation market benchmark: how much of what the neighbourhood could trade it does.

The reference run is a June week (from Monday 15 June 2026, 7 days) of 50 households,
seed 1, each a real node in lockstep (docs/simulation.md). It prints, from the run's
report (the settled allocations):

- `BENCH sim_match_efficiency <ratio> ratio`: energy settled between neighbours over the
  slot-by-slot matching limit (sum over slots of min(what the meters exported, what
  they imported), after own use, batteries and cars);
- `BENCH sim_ev_local_share <pct> %`: the cars' charging bought from neighbours;
- `BENCH sim_pv_local_share <pct> %`: PV self-consumed at home or sold to a neighbour.

The reference run takes about an hour on one core (about 0.18 slots/s with 50 nodes).
Environment variables shrink it: `SIM_BENCH_HOUSEHOLDS` (default 50), `SIM_BENCH_DAYS`
(default 7), `SIM_BENCH_HOURS` (overrides the days), `SIM_BENCH_START_HOUR` (local hour
of the first day, default 0); a shrunk run says so on stderr, and its figures are not
the reference's. A share with nothing to divide (no car charged) prints 0.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from market.sim.report import Report
from market.sim.runner import SimConfig, simulate

REFERENCE = {"households": 50, "days": 7, "hours": None, "start_hour": 0}


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value else None


def config(work: Path) -> SimConfig:
    """The reference run, shrunk by the environment."""
    return SimConfig(
        households=_env_int("SIM_BENCH_HOUSEHOLDS") or 50,
        days=_env_int("SIM_BENCH_DAYS") or 7,
        hours=_env_int("SIM_BENCH_HOURS"),
        start_hour=_env_int("SIM_BENCH_START_HOUR") or 0,
        seed=1,
        start=date(2026, 6, 15),
        work_dir=work,
    )


def _percent(part: int, whole: int) -> float:
    return 100 * part / whole if whole > 0 else 0.0


def figures(report: Report) -> tuple[float, float, float]:
    """(match efficiency, EV local share %, PV local share %) from the report's integers."""
    s = report.summary()
    efficiency = s.local_traded_wh / s.match_limit_wh if s.match_limit_wh > 0 else 0.0
    ev = _percent(s.ev_local_wh, s.ev_wh)
    sold = sum(totals.local_sold_wh for totals in report.households.values())
    pv_local = s.pv_wh - s.export_wh + sold
    return efficiency, ev, _percent(pv_local, s.pv_wh)


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        run = config(Path(scratch))
        scale = {
            "households": run.households,
            "days": run.days,
            "hours": run.hours,
            "start_hour": run.start_hour,
        }
        if scale != REFERENCE:
            print(f"bench_sim_market: shrunk run {scale}, not the reference", file=sys.stderr)
        began = time.monotonic()
        report = asyncio.run(simulate(run))
        elapsed = time.monotonic() - began
    efficiency, ev, pv = figures(report)
    s = report.summary()
    print(
        f"bench_sim_market: {s.slots} slots in {elapsed:.0f} s; traded {s.local_traded_wh} Wh"
        f" of a {s.match_limit_wh} Wh limit; EV {s.ev_local_wh} of {s.ev_wh} Wh",
        file=sys.stderr,
    )
    print(f"BENCH sim_match_efficiency {efficiency:.3f} ratio")
    print(f"BENCH sim_ev_local_share {ev:.1f} %")
    print(f"BENCH sim_pv_local_share {pv:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
