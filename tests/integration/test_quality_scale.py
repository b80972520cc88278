"""quality_scale.yaml states every rule of Home Assistant's integration quality scale,
and the claims that can be checked from the code hold."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "custom_components" / "p2p_energy"

# The rules of the scale (hassfest's ALL_RULES, Bronze to Platinum).
RULES = {
    "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
    "config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-conditions",
    "docs-high-level-description", "docs-installation-instructions",
    "docs-removal-instructions", "docs-triggers", "entity-event-setup", "entity-unique-id",
    "has-entity-name", "runtime-data", "test-before-configure", "test-before-setup",
    "unique-config-entry",
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
    "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices",
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip


def _statuses() -> dict[str, tuple[str, str]]:
    rules: dict[str, Any] = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())[
        "rules"
    ]
    out = {}
    for name, value in rules.items():
        if isinstance(value, str):
            out[name] = (value, "")
        else:
            out[name] = (value["status"], value.get("comment", ""))
    return out


STATUSES = _statuses()


def _done(rule: str) -> bool:
    return STATUSES[rule][0] == "done"


def test_every_rule_has_an_honest_status() -> None:
    assert set(STATUSES) == RULES
    for name, (status, comment) in STATUSES.items():
        assert status in {"done", "todo", "exempt"}, name
        if status != "done":
            assert len(comment) > 20, f"{name} is {status}: say why"


def _module(name: str) -> ast.Module:
    return ast.parse((INTEGRATION / name).read_text())


def _assigned_names(module: ast.Module) -> set[str]:
    return {
        target.id
        for node in module.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _platforms() -> list[str]:
    """The platforms the integration sets up (its PLATFORMS list)."""
    from custom_components.p2p_energy import PLATFORMS

    return [platform.value for platform in PLATFORMS]


def test_parallel_updates_is_set_by_every_platform() -> None:
    assert _done("parallel-updates")
    assert _platforms()
    for platform in _platforms():
        assert "PARALLEL_UPDATES" in _assigned_names(_module(f"{platform}.py")), platform


def test_runtime_data_not_hass_data() -> None:
    assert _done("runtime-data")
    for path in INTEGRATION.glob("*.py"):
        assert "hass.data[DOMAIN]" not in path.read_text(), path.name


@pytest.mark.parametrize(
    ("rule", "needle", "module"),
    [
        ("reconfiguration-flow", "async_step_reconfigure", "config_flow.py"),
        ("discovery", "async_step_zeroconf", "config_flow.py"),
        ("discovery", "async_step_usb", "config_flow.py"),
        ("diagnostics", "async_get_config_entry_diagnostics", "diagnostics.py"),
        ("repair-issues", "async_create_issue", "issues.py"),
        ("has-entity-name", "_attr_has_entity_name = True", "entity.py"),
        ("action-setup", "async_setup_services(hass)", "__init__.py"),
        ("exception-translations", "translation_key=", "services.py"),
        ("inject-websession", "async_get_clientsession(hass)", "node_setup.py"),
    ],
)
def test_done_rules_are_in_the_code(rule: str, needle: str, module: str) -> None:
    assert _done(rule)
    assert needle in (INTEGRATION / module).read_text()


def test_brands_icons_and_owner() -> None:
    assert _done("brands") and _done("icon-translations") and _done("integration-owner")
    assert (INTEGRATION / "brand" / "icon.png").is_file()
    assert json.loads((INTEGRATION / "icons.json").read_text())
    assert json.loads((INTEGRATION / "manifest.json").read_text())["codeowners"]


def test_coverage_rules_are_enforced_by_make_test() -> None:
    """test-coverage and config-flow-test-coverage are claims make test checks."""
    import runpy

    assert _done("test-coverage") and _done("config-flow-test-coverage")
    assert "scripts/check_coverage.py" in (ROOT / "Makefile").read_text()
    floors = runpy.run_path(str(ROOT / "scripts" / "check_coverage.py"))
    assert floors["FLOOR"] >= 95
    assert "config_flow.py" in floors["FULL"]
