"""`python -m tests.faults.skewed OFFSET_S ARGS...` runs `python -m market ARGS...` in a
process whose wall clock reads OFFSET_S seconds off, like a machine whose NTP is broken.

What libfaketime does for a whole process, done in Python (libfaketime is not installed
here): every reader of `time.time`/`time.time_ns` (ledger timestamps, request
signatures and their replay window, invite expiries) sees the shifted time, while the
monotonic clock the event loop schedules on is untouched. It is patched before `market`
is imported, so a module that copies the function at import gets the shifted one too.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    """Shift the wall clock, then run the market command line."""
    offset_ns = int(float(sys.argv[1]) * 1_000_000_000)
    real_time_ns = time.time_ns
    time.time_ns = lambda: real_time_ns() + offset_ns
    time.time = lambda: (real_time_ns() + offset_ns) / 1_000_000_000
    from market.cli import main as market_main

    return market_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
