"""Run every benchmark script (benchmarks/bench_*.py) and relay its BENCH lines.

Each script prints `BENCH <name> <value> <unit>` lines on stdout. Scripts are pinned
to one CPU where the OS allows it, since the targets are stated per core.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the benchmarks one after the other; returns non-zero if one failed."""
    failed = []
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    for script in sorted(HERE.glob("bench_*.py")):
        cmd = [sys.executable, str(script)]
        if sys.platform.startswith("linux") and Path("/usr/bin/taskset").exists():
            cmd = ["/usr/bin/taskset", "-c", "0", *cmd]
        proc = subprocess.run(cmd, env=env, check=False, stdout=subprocess.PIPE, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("BENCH "):
                print(line, flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
            print(
                f"benchmark {script.name} failed with exit code {proc.returncode}", file=sys.stderr
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
