"""The GitHub workflows a maintainer's repository runs: hassfest and HACS on every push,
the tests, and a release of the zip HACS installs on a version tag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def _workflow(name: str) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    loaded["on"] = loaded.pop(True)
    return loaded


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_hassfest_and_hacs_run_on_every_push() -> None:
    workflow = _workflow("validate.yml")
    assert "push" in workflow["on"] and "pull_request" in workflow["on"]
    uses = {step.get("uses", "").split("@")[0] for step in _steps(workflow)}
    assert {"home-assistant/actions/hassfest", "hacs/action"} <= uses
    (hacs,) = (s for s in _steps(workflow) if s.get("uses", "").startswith("hacs/action"))
    assert hacs["with"]["category"] == "integration"


def test_tests_run_both_legs_like_ci() -> None:
    workflow = _workflow("tests.yml")
    commands = " ".join(step.get("run", "") for step in _steps(workflow))
    ci = (ROOT / ".ci" / "run").read_text()
    for target in ("make test", "make test-ha-latest"):
        assert target in commands
        assert target in ci


def test_a_version_tag_releases_the_zip_hacs_expects() -> None:
    workflow = _workflow("release.yml")
    assert workflow["on"]["push"]["tags"] == ["v*"]
    assert workflow["permissions"]["contents"] == "write"
    steps = _steps(workflow)
    runs = [step.get("run", "") for step in steps]
    assert any("make release" in run for run in runs)
    assert any("manifest.json" in run for run in runs), "the tag must match the version"
    (publish,) = (s for s in steps if "action-gh-release" in s.get("uses", ""))
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["zip_release"] is True
    assert publish["with"]["files"] == f"dist/{hacs['filename']}"
    makefile = (ROOT / "Makefile").read_text()
    assert f"--out dist/{hacs['filename']}" in makefile
