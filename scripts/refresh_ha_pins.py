"""Refreshes what the tests know about the Home Assistant releases we support.

    .venv/bin/python scripts/refresh_ha_pins.py          # needs the package index

It writes, under tests/integration/ha_releases/:

- `<version>.constraints.txt`: HA's own `package_constraints.txt` of each supported
  release (the pins HA's requirement installer applies to every integration);
- `releases.json`: for each release, its `Requires-Python` and core requirements (what HA
  itself installs, hence what the manifest must never list);
- `index/`: a metadata-only package index (PEP 503 pages with PEP 658 `.metadata`
  files, no wheels) holding every version the resolution test can need, so that
  `tests/integration/test_requirements_resolve.py` runs pip's real resolver offline.

and updates the `pytest-homeassistant-custom-component` pin of requirements-ha-latest.txt
(the newest-HA test leg) to the newest release of the plugin.

Which versions land in the index: for every release and platform, what pip's resolver
picks against the real index today for the manifest's requirements (so the offline
resolution can always find the same answer), plus, for each project of that closure,
every version a stored constraint file pins and the newest release (so that a manifest
pin that some HA rejects is reported as the conflict it is, not as a missing version).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "integration" / "ha_releases"
MANIFEST = ROOT / "custom_components" / "p2p_energy" / "manifest.json"
LATEST_REQUIREMENTS = ROOT / "requirements-ha-latest.txt"
PLUGIN = "pytest-homeassistant-custom-component"

# The releases the issue names: the pinned test HA, the first one that broke us, the
# releases households ran when it was found, and the newest (plus the one the newest
# test plugin pins, which the newest-HA leg runs). A minor means its newest patch.
TRACKS = ("2025.4.4", "2025.5", "2025.12", "2026.2")
# Home Assistant runs on both in practice (x86 boxes, Raspberry Pi / ARM boards).
PLATFORMS = ("x86_64", "aarch64")
# The Python releases the stored HA releases ask for; newest HA needs 3.14.
PROBE_PYTHON = ("3.13.2", "3.14.2")


def pip(*args: str, capture: bool = True) -> str:
    """Runs pip with no machine-wide configuration (constraints, find-links, mirrors)."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, env=env, check=True, text=True, capture_output=capture)
    return done.stdout


def platform_args(arch: str) -> list[str]:
    """pip matches --platform exactly, so every manylinux spelling is listed."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(28, 16, -1)]
    return [arg for tag in [*tags, f"manylinux2014_{arch}"] for arg in ("--platform", tag)]


def available(project: str, python: str) -> list[Version]:
    out = pip("index", "versions", project, "--python-version", python, "--only-binary=:all:")
    match = re.search(r"Available versions: (.+)", out)
    return sorted(Version(v) for v in match.group(1).split(", ")) if match else []


def releases() -> list[Version]:
    """The tracks' versions, the newest release and the one the newest plugin pins."""
    known = sorted(set(available("homeassistant", "3.13.2") + available("homeassistant", "3.14.8")))
    chosen = set()
    for track in TRACKS:
        parts = track.split(".")
        if len(parts) == 3:
            chosen.add(Version(track))
        else:
            chosen.add(max(v for v in known if v.release[:2] == tuple(map(int, parts))))
    chosen.add(known[-1])
    chosen.add(plugin_pin()[1])
    return sorted(chosen)


def plugin_pin() -> tuple[Version, Version]:
    """The newest test plugin and the Home Assistant release it pins."""
    newest = available(PLUGIN, "3.14.8")[-1]
    with tempfile.TemporaryDirectory() as tmp:
        pip("download", "--no-deps", "--only-binary=:all:", "--python-version", "3.14.8",
            "-d", tmp, f"{PLUGIN}=={newest}")  # fmt: skip
        wheel = next(Path(tmp).glob("*.whl"))
        metadata = wheel_metadata(wheel).decode()
    ha = re.search(r"^Requires-Dist: homeassistant==(\S+)", metadata, re.M)
    assert ha, f"{wheel.name} does not pin homeassistant"
    return newest, Version(ha.group(1))


def wheel_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name)


def store_release(version: Version, cache: Path) -> dict[str, object]:
    pip("download", "--no-deps", "--only-binary=:all:", "--python-version", "3.14.8",
        "-d", str(cache), f"homeassistant=={version}")  # fmt: skip
    wheel = next(cache.glob(f"homeassistant-{version}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        constraints = archive.read("homeassistant/package_constraints.txt")
    (OUT / f"{version}.constraints.txt").write_bytes(constraints)
    metadata = wheel_metadata(wheel).decode()
    python = re.search(r"^Requires-Python: (.+)$", metadata, re.M)
    core = re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)
    return {
        "version": str(version),
        "requires_python": python.group(1).strip() if python else "",
        "core_requirements": sorted(line.strip() for line in core),
    }


def lowest_python(requires: str) -> str:
    """The lowest Python a release accepts: the one a household may run it on."""
    spec = SpecifierSet(requires)
    return next(p for p in PROBE_PYTHON if spec.contains(p))


def resolution_args(
    requirements: list[str], constraints: Path, python: str, arch: str, report: str
) -> list[str]:
    """pip's arguments to resolve `requirements` as Home Assistant installs them (with
    its constraints) for another Python and platform, writing pip's JSON report; the
    refresh runs them against the real index, the test against the stored one."""
    return [
        "install", "--dry-run", "--ignore-installed", "--quiet", "--only-binary=:all:",
        "--python-version", python, *platform_args(arch), "-c", str(constraints),
        "--report", report, *requirements,
    ]  # fmt: skip


def resolve_online(
    requirements: list[str], constraints: Path, python: str, arch: str
) -> dict[str, str]:
    """What pip picks against the real index (the answer the offline test must find)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip(*resolution_args(requirements, constraints, python, arch, str(report)))
        items = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"]: item["metadata"]["version"] for item in items}


def constraint_pins(path: Path) -> dict[str, str]:
    """The exact versions a constraints file pins, by canonical project name."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        for spec in req.specifier:
            if spec.operator == "==":
                pins[canonicalize_name(req.name)] = spec.version
    return pins


def pinned_by_constraints(project: str) -> set[str]:
    name = canonicalize_name(project)
    pins = (constraint_pins(path).get(name) for path in OUT.glob("*.constraints.txt"))
    return {pin for pin in pins if pin is not None}


def build_index(picks: dict[str, set[str]], cache: Path) -> None:
    index = OUT / "index"
    files = index / "files"
    for old in index.rglob("*"):
        if old.is_file():
            old.unlink()
    files.mkdir(parents=True, exist_ok=True)
    links: dict[str, dict[str, str]] = defaultdict(dict)
    for project, versions in sorted(picks.items()):
        for version in sorted(versions, key=Version):
            for python in PROBE_PYTHON:
                for arch in PLATFORMS:
                    target = cache / f"{project}-{version}-{python}-{arch}"
                    target.mkdir(parents=True, exist_ok=True)
                    try:
                        pip("download", "--no-deps", "--quiet", "--only-binary=:all:",
                            "--python-version", python, *platform_args(arch), "-d", str(target),
                            f"{project}=={version}")  # fmt: skip
                    except subprocess.CalledProcessError:
                        continue  # no wheel of that version for that Python: a real gap
                    for wheel in target.glob("*.whl"):
                        data = wheel_metadata(wheel)
                        (files / f"{wheel.name}.metadata").write_bytes(data)
                        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                        meta = hashlib.sha256(data).hexdigest()
                        links[canonicalize_name(project)][wheel.name] = (
                            f'<a href="../../files/{wheel.name}#sha256={digest}" '
                            f'data-dist-info-metadata="sha256={meta}" '
                            f'data-core-metadata="sha256={meta}">{wheel.name}</a><br/>'
                        )
    for project, anchors in links.items():
        page = index / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join(anchors[name] for name in sorted(anchors))
        page.write_text(f"<!DOCTYPE html>\n<html><body>\n{body}\n</body></html>\n")


def update_plugin_pin(plugin: Version) -> None:
    if not LATEST_REQUIREMENTS.exists():
        return
    text = LATEST_REQUIREMENTS.read_text()
    pattern = rf"^{re.escape(PLUGIN)}==\S+$"
    LATEST_REQUIREMENTS.write_text(re.sub(pattern, f"{PLUGIN}=={plugin}", text, flags=re.M))


def main() -> int:
    argparse.ArgumentParser(description=__doc__.split("\n", 1)[0]).parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.constraints.txt"):
        old.unlink()
    requirements = json.loads(MANIFEST.read_text())["requirements"]
    plugin, plugin_ha = plugin_pin()
    chosen = releases()
    print(f"releases: {', '.join(map(str, chosen))}; {PLUGIN} {plugin} pins {plugin_ha}")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        stored = [store_release(version, cache) for version in chosen]
        picks: dict[str, set[str]] = defaultdict(set)
        conflicts = []
        for release in stored:
            python = lowest_python(str(release["requires_python"]))
            constraints = OUT / f"{release['version']}.constraints.txt"
            for arch in PLATFORMS:
                try:
                    found = resolve_online(requirements, constraints, python, arch)
                except subprocess.CalledProcessError as err:
                    conflicts.append(f"{release['version']} {arch}: {err.stderr.strip()}")
                    continue
                for name, version in found.items():
                    picks[name].add(version)
        for project in list(picks):
            picks[project] |= pinned_by_constraints(project)
            newest = available(project, "3.14.8")
            if newest:
                picks[project].add(str(newest[-1]))
        build_index(picks, cache / "wheels")
    (OUT / "releases.json").write_text(json.dumps(stored, indent=2) + "\n")
    update_plugin_pin(plugin)
    for project, versions in sorted(picks.items()):
        print(f"index: {project} {', '.join(sorted(versions, key=Version))}")
    for conflict in conflicts:
        print(f"CONFLICT {conflict}", file=sys.stderr)
    return 1 if conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
