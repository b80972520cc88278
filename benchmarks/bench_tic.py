"""Benchmark of the TIC decoder on the real captures (one core).

Prints `BENCH <name> <value> <unit>` lines on stdout; everything else on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from market.meter.decoder import TicDecoder
from market.meter.state import MeterTracker

DATA = Path(__file__).resolve().parent.parent / "tests" / "market" / "data" / "tic"
SECONDS = 3.0


def _captures() -> list[bytes]:
    captures = [p.read_bytes() for p in sorted(DATA.glob("*.bin"))]
    if not captures:
        print(f"no captures in {DATA}", file=sys.stderr)
        raise SystemExit(1)
    return captures


def bench_decode(captures: list[bytes]) -> float:
    """Datasets (good and bad) decoded per second, feeding each capture in 64-byte reads."""
    chunks = [[c[i : i + 64] for i in range(0, len(c), 64)] for c in captures]
    datasets = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for capture in chunks:
            decoder = TicDecoder()
            for chunk in capture:
                decoder.feed(chunk)
            datasets += decoder.stats.datasets_ok + decoder.stats.datasets_bad_total
    return datasets / elapsed


def bench_state(captures: list[bytes]) -> float:
    """Frames per second through decoding and the typed MeterState."""
    frames_total = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < SECONDS:
        for capture in captures:
            tracker = MeterTracker()
            for frame in TicDecoder().feed(capture):
                tracker.update(frame)
                frames_total += 1
    return frames_total / elapsed


def main() -> None:
    """Run the benchmarks and print their figures."""
    captures = _captures()
    print(f"{len(captures)} captures, {sum(map(len, captures))} bytes", file=sys.stderr)
    print(f"BENCH tic_datasets_per_s {bench_decode(captures):.0f} datasets/s")
    print(f"BENCH tic_frames_to_state_per_s {bench_state(captures):.0f} frames/s")


if __name__ == "__main__":
    main()
