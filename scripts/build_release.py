"""Build the HACS release zip: the integration with the market engine bundled inside.

In a checkout the integration imports the top-level `market` package. A HACS user
gets only `custom_components/p2p_energy/`, so the release copies `market/` into it
as the subpackage `p2p_energy.market` and turns the integration's
`from market...` imports into relative ones. The engine itself only uses relative
imports, so the copy works unchanged: one source of truth, nothing duplicated in git.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "p2p_energy"
ENGINE = ROOT / "market"
BUNDLED_NAME = "market"
# Whatever a running install needs; caches and editor files stay out.
SKIP_PARTS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo"}

_IMPORT_RE = re.compile(r"^(\s*)from market(?=[.\s])", re.MULTILINE)
_BARE_IMPORT_RE = re.compile(r"^\s*import market\b", re.MULTILINE)


class ReleaseError(Exception):
    """The sources cannot be turned into a working release."""


def release_files(base: Path) -> list[Path]:
    """Files under `base` that belong in a release, sorted for a reproducible zip."""
    return sorted(
        p
        for p in base.rglob("*")
        if p.is_file() and not SKIP_PARTS & set(p.parts) and p.suffix not in SKIP_SUFFIXES
    )


def bundle_imports(source: str, depth: int, name: str) -> str:
    """Rewrite `from market...` imports of an integration module at package depth `depth`."""
    if _BARE_IMPORT_RE.search(source):
        raise ReleaseError(f"{name}: use `from market... import ...`, not `import market`")
    dots = "." * (depth + 1)
    return _IMPORT_RE.sub(rf"\1from {dots}{BUNDLED_NAME}", source)


def zip_entries() -> dict[str, bytes]:
    """Map each path inside the zip to its bytes."""
    entries: dict[str, bytes] = {}
    for path in release_files(INTEGRATION):
        rel = path.relative_to(INTEGRATION)
        data = path.read_bytes()
        if path.suffix == ".py":
            depth = len(rel.parts) - 1
            data = bundle_imports(data.decode(), depth, str(rel)).encode()
        entries[rel.as_posix()] = data
    for path in release_files(ENGINE):
        rel = Path(BUNDLED_NAME) / path.relative_to(ENGINE)
        entries[rel.as_posix()] = path.read_bytes()
    return entries


def build(out: Path) -> Path:
    """Write the release zip to `out` and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in zip_entries().items():
            # A fixed timestamp keeps the zip byte-identical across builds.
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out


def main() -> int:
    """Command line: build the zip."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "p2p_energy.zip")
    args = parser.parse_args()
    try:
        path = build(args.out)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    print(f"release: wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
