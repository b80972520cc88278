"""The manifest's requirements install on every supported Home Assistant release.

Home Assistant installs an integration's requirements with its own
`package_constraints.txt` as pip constraints; a requirement that conflicts with them
makes *Add integration* fail with "Requirements for p2p_energy not found". This test
runs pip's real resolver, with `--python-version`/`--platform`/`--only-binary` so any
Python here can stand in for the one each release runs on, against the constraints of
each release stored in `ha_releases/` and an offline, metadata-only index of the
versions involved. `scripts/refresh_ha_pins.py` refreshes all of it from the package
index (run it after changing the manifest's requirements or to add a release).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from scripts.refresh_ha_pins import PLATFORMS, constraint_pins, lowest_python, resolution_args

ROOT = Path(__file__).resolve().parents[2]
RELEASES_DIR = Path(__file__).parent / "ha_releases"
RELEASES: list[dict[str, Any]] = json.loads((RELEASES_DIR / "releases.json").read_text())
MANIFEST = json.loads((ROOT / "custom_components" / "p2p_energy" / "manifest.json").read_text())


def _resolve(requirements: list[str], release: dict[str, Any], arch: str) -> dict[str, str]:
    """What pip would install, or AssertionError with pip's explanation of the conflict."""
    constraints = RELEASES_DIR / f"{release['version']}.constraints.txt"
    python = lowest_python(release["requires_python"])
    command = [
        sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check",
        "--no-cache-dir", *resolution_args(requirements, constraints, python, arch, report="-"),
        "--index-url", (RELEASES_DIR / "index" / "simple").as_uri(),
    ]  # fmt: skip
    # The machine's pip configuration (a constraint file, mirrors) must not take part.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(requirements)} do not install on Home Assistant {release['version']}"
            f" ({arch}):\n{done.stderr}\n(a requirement missing from the offline index means "
            "scripts/refresh_ha_pins.py was not run after changing the manifest)"
        )
    items = json.loads(done.stdout)["install"]
    return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def _pins(release: dict[str, Any]) -> dict[str, str]:
    return constraint_pins(RELEASES_DIR / f"{release['version']}.constraints.txt")


def test_the_issue_releases_are_all_stored() -> None:
    """2025.4 (pinned here), 2025.5, 2025.12, 2026.2 and a 2026 release after them."""
    versions = [release["version"] for release in RELEASES]
    minors = {".".join(v.split(".")[:2]) for v in versions}
    assert {"2025.4", "2025.5", "2025.12", "2026.2"} <= minors
    assert "2025.4.4" in versions
    assert max(map(Version, versions)) > Version("2026.3")


@pytest.mark.parametrize("arch", PLATFORMS)
@pytest.mark.parametrize("release", RELEASES, ids=lambda release: release["version"])
def test_manifest_requirements_resolve_with_home_assistant(
    release: dict[str, Any], arch: str
) -> None:
    installed = _resolve(MANIFEST["requirements"], release, arch)
    pins = _pins(release)
    for name in (canonicalize_name(Requirement(line).name) for line in MANIFEST["requirements"]):
        assert name in installed
        # What HA pins is what gets installed: the manifest never fights HA's version.
        if name in pins:
            assert installed[name] == pins[name]


@pytest.mark.parametrize("release", RELEASES, ids=lambda release: release["version"])
def test_manifest_lists_nothing_home_assistant_core_provides(release: dict[str, Any]) -> None:
    """HA's core requirements are installed by HA itself, at HA's version: listing one
    in the manifest can only conflict with some release (zeroconf did)."""
    core = {canonicalize_name(Requirement(line).name) for line in release["core_requirements"]}
    assert "zeroconf" in core  # the check would pass vacuously if reading it broke
    listed = {canonicalize_name(Requirement(line).name) for line in MANIFEST["requirements"]}
    assert not listed & core


def test_an_exact_pin_that_some_release_rejects_is_reported() -> None:
    """The resolution really checks: the exact PyNaCl of one release, pinned in the
    manifest, conflicts with every release that pins another one."""
    by_release = {release["version"]: _pins(release).get("pynacl") for release in RELEASES}
    oldest = RELEASES[0]
    pin = f"PyNaCl=={by_release[oldest['version']]}"
    rejecting = [r for r in RELEASES if by_release[r["version"]] != by_release[oldest["version"]]]
    assert rejecting, "every stored release pins the same PyNaCl: nothing left to prove"
    assert _resolve([pin], oldest, "x86_64")["pynacl"] == by_release[oldest["version"]]
    for release in rejecting:
        with pytest.raises(AssertionError, match=r"conflicting dependencies|ResolutionImpossible"):
            _resolve([pin], release, "x86_64")
