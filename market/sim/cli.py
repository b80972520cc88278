"""`python -m market simulate`: a neighbourhood of real nodes, and what it is worth."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from .runner import SimConfig, simulate
from .site import LYON_LATITUDE, LYON_LONGITUDE


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `simulate` to the market CLI."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a neighbourhood of real nodes and report what trading brought",
        description=(
            "Runs one real market node per household (ledger, gossip on loopback, "
            "clearing, seals) on a simulated clock, drives them with French household "
            "profiles, settles every slot from the simulated meters and writes "
            "report.json, charts and a summary."
        ),
    )
    parser.add_argument("--households", type=int, default=12)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--hours", type=int, help="simulate this many hours instead of days")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--start", type=date.fromisoformat, default=date(2026, 6, 15), help="YYYY-MM-DD"
    )
    parser.add_argument("--start-hour", type=int, default=0, help="local hour to begin at")
    parser.add_argument("--latitude", type=float, default=LYON_LATITUDE)
    parser.add_argument("--longitude", type=float, default=LYON_LONGITUDE)
    parser.add_argument("--ev-share", type=float, default=0.25)
    parser.add_argument("--pv-share", type=float, default=0.4)
    parser.add_argument("--battery-share", type=float, default=0.1)
    parser.add_argument(
        "--speed",
        type=float,
        help="run on an accelerated wall clock (x times real time) instead of as fast "
        "as possible; the result then depends on timing",
    )
    parser.add_argument("--out", type=Path, default=Path("sim-report"), help="report directory")
    parser.add_argument(
        "--keep-ledgers", action="store_true", help="keep the nodes' data dirs in OUT/nodes"
    )
    parser.add_argument("--no-charts", action="store_true")
    parser.set_defaults(handler=_run)


def _progress(done: int, total: int) -> None:
    if done == total or done % 16 == 0:
        print(
            f"\rslot {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True
        )


def _run(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="p2p-sim-") as scratch:
        work = out / "nodes" if args.keep_ledgers else Path(scratch)
        config = SimConfig(
            households=args.households,
            days=args.days,
            hours=args.hours,
            seed=args.seed,
            start=args.start,
            start_hour=args.start_hour,
            latitude=args.latitude,
            longitude=args.longitude,
            ev_share=args.ev_share,
            pv_share=args.pv_share,
            battery_share=args.battery_share,
            speed=args.speed,
            work_dir=work,
        )
        began = time.monotonic()
        report = asyncio.run(simulate(config, _progress))
        elapsed = time.monotonic() - began
    (out / "report.json").write_text(json.dumps(report.to_json_obj(), indent=2) + "\n")
    if not args.no_charts:
        from .charts import draw_charts  # noqa: PLC0415 - matplotlib is slow to import

        draw_charts(report, out)
    print(report.summary_text())
    slots = len(report.slots)
    print(f"\n{slots} slots of {args.households} real nodes in {elapsed:.1f} s; report in {out}")
    return 1 if report.summary().households_worse_off else 0
