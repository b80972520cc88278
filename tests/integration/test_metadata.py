"""What HACS and Home Assistant read before any code runs: manifest, hacs.json,
translations and brand images."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import __version__ as ha_version
from packaging.requirements import Requirement
from packaging.version import Version
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "custom_components" / "p2p_energy"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(name="manifest")
def manifest_fixture() -> dict[str, Any]:
    manifest: dict[str, Any] = _json(INTEGRATION / "manifest.json")
    return manifest


def test_manifest_key_order(manifest: dict[str, Any]) -> None:
    """Home Assistant's rule: domain, name, then the rest alphabetically."""
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_fields(manifest: dict[str, Any]) -> None:
    assert manifest["domain"] == "p2p_energy" == INTEGRATION.name
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "local_push"
    assert manifest["integration_type"] in {"hub", "service", "device"}
    assert manifest["zeroconf"] == ["_p2p-energy._tcp.local."]
    assert manifest["codeowners"]
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://"), key
    Version(manifest["version"])  # custom integrations need a valid version


def test_versions_agree(manifest: dict[str, Any]) -> None:
    from market import __version__ as engine_version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == project["version"] == engine_version


def test_requirements_are_ranges_the_engine_is_tested_within(manifest: dict[str, Any]) -> None:
    """The manifest gives ranges (HA's constraints choose the exact version; see
    test_requirements_resolve.py), and the versions the engine is tested with here,
    requirements.txt, are inside them."""
    pins = {
        Requirement(line).name.lower(): Requirement(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for line in manifest["requirements"]:
        req = Requirement(line)
        assert not any(spec.operator == "==" for spec in req.specifier), f"{line}: a range"
        (tested,) = (spec.version for spec in pins[req.name.lower()].specifier)
        assert req.specifier.contains(tested), f"{line} excludes the tested {tested}"


def test_hacs_json() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert hacs["name"]
    assert hacs["zip_release"] is True
    assert hacs["filename"] == "p2p_energy.zip"
    assert Version(hacs["homeassistant"]) <= Version(ha_version)


def _keys(tree: Any, prefix: str = "") -> set[str]:
    if isinstance(tree, dict):
        return set().union(*(_keys(v, f"{prefix}{k}.") for k, v in tree.items())) or {prefix}
    return {prefix.rstrip(".")}


def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in _leaves(value)]
    return [tree]


def test_translations_are_complete() -> None:
    """English is strings.json itself; French has every key, none left empty."""
    strings = _json(INTEGRATION / "strings.json")
    assert _json(INTEGRATION / "translations" / "en.json") == strings
    french = _json(INTEGRATION / "translations" / "fr.json")
    assert _keys(french) == _keys(strings)
    assert all(isinstance(text, str) and text.strip() for text in _leaves(french))


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_brand_images_are_drawn_by_the_script(name: str, size: int, tmp_path: Path) -> None:
    import runpy

    committed = Image.open(INTEGRATION / "brand" / name)
    assert committed.size == (size, size)
    assert committed.mode == "RGBA"
    draw_icon = runpy.run_path(str(ROOT / "scripts" / "draw_brand.py"))["draw_icon"]
    redrawn = draw_icon(size)
    assert ImageChops.difference(committed, redrawn).getbbox() is None
