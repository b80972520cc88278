"""Simulation benchmark: 50 households, each a real node (ledger, gossip on loopback,
clearing, seals), stepped in lockstep over midday slots.

Prints `BENCH sim_slots_per_s_50 <slots/s> slots/s` (simulated 15-minute slots per
second of wall time, warm-up slot excluded) and `BENCH sim_rss_mb_per_node <MB> MB`
(the process's resident memory at the end, divided by the number of nodes).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from market.sim.runner import Neighbourhood, SimConfig

HOUSEHOLDS = 50
HOURS = 1


async def _run(work: Path) -> tuple[float, float]:
    config = SimConfig(
        households=HOUSEHOLDS,
        hours=HOURS,
        seed=1,
        start=date(2026, 6, 15),
        start_hour=11,
        work_dir=work,
    )
    neighbourhood = Neighbourhood(config)
    await neighbourhood.open()
    slots: list[float] = []
    try:
        began = time.monotonic()

        def progress(done: int, _total: int) -> None:
            slots.append(time.monotonic())

        await neighbourhood.run(progress)
        # the first reported slot carries the start-up and the warm-up slot
        timed = slots[-1] - slots[0] if len(slots) > 1 else slots[-1] - began
        rate = (len(slots) - 1) / timed if len(slots) > 1 else 1 / timed
    finally:
        await neighbourhood.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return rate, rss_mb / HOUSEHOLDS


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        rate, rss = asyncio.run(_run(Path(scratch)))
    print(f"BENCH sim_slots_per_s_50 {rate:.3f} slots/s")
    print(f"BENCH sim_rss_mb_per_node {rss:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
