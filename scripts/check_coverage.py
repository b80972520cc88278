"""Fails when a module of the integration falls under its coverage floor.

    .venv/bin/python scripts/check_coverage.py     # after the pytest runs of make test

A total can hide one poorly tested module, so the floors apply file by file: every
module of custom_components/p2p_energy at 95 % or more, and the config flow (with the
helpers it calls) at 100 %, error paths included (quality scale rules test-coverage and
config-flow-test-coverage).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "p2p_energy"
FLOOR = 95.0
# The config flow and every module it is split into (quality scale: config-flow-test-coverage).
FULL = (
    "config_flow.py",
    "flow_entries.py",
    "flow_helpers.py",
    "flow_schemas.py",
    "meter_flow.py",
    "options_flow.py",
    "serial_ports.py",
)


def per_file() -> dict[Path, float]:
    """Statements and branches together, as `coverage report` counts them."""
    cov = coverage.Coverage(
        data_file=str(ROOT / ".coverage"), config_file=str(ROOT / ".coveragerc")
    )
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(include=[str(INTEGRATION / "*")], outfile=str(out))
        files = json.loads(out.read_text())["files"]
    return {
        (ROOT / name).resolve(): data["summary"]["percent_covered"] for name, data in files.items()
    }


def main() -> int:
    covered = per_file()
    failures = []
    for module in sorted(INTEGRATION.rglob("*.py")):
        floor = 100.0 if module.name in FULL else FLOOR
        if module.resolve() not in covered:
            failures.append(f"{module.relative_to(ROOT)}: never imported by the tests")
        elif covered[module.resolve()] < floor:
            failures.append(
                f"{module.relative_to(ROOT)}: {covered[module.resolve()]:.1f} % < {floor:g} %"
            )
    for line in failures:
        print(f"coverage: {line}", file=sys.stderr)
    if not failures:
        print(f"coverage: every integration module >= {FLOOR:g} %, {', '.join(FULL)} 100 %")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
