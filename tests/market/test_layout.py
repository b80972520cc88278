"""The engine's packaging rules: HA-free, relative imports, typed, a working CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_FILES = sorted((ROOT / "market").rglob("*.py"))


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_module_is_ha_free_and_relocatable(path: Path) -> None:
    """market never imports Home Assistant, and reaches its siblings relatively.

    The release bundles market inside the integration under another package name,
    where an absolute `market` import would load a different (or no) copy.
    """
    for lineno, module in _imported_modules(path):
        top = module.split(".")[0]
        assert top != "homeassistant", f"{path}:{lineno} imports {module}"
        assert top != "market", f"{path}:{lineno}: use a relative import instead of {module}"


def test_engine_is_typed() -> None:
    assert (ROOT / "market" / "py.typed").is_file()


def test_cli_help_lists_the_subcommands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "market", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT.parent,  # not the checkout: the installed package must be found
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m market" in proc.stdout
    for command in ("agents", "auction", "invite", "ledger", "node", "tic"):
        assert command in proc.stdout


def test_cli_without_command_prints_help() -> None:
    from market.cli import main

    assert main([]) == 0


# The engine's layers, lowest first: a module imports from its own area, from lower
# layers, or from the package root (`__version__`), never upward. A new area must be
# placed here, which is the moment to decide where it belongs.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset(
        {"model", "units", "localtime", "jsontext", "supervise", "logflood", "meter", "errors"}
    ),
    frozenset({"auction"}),
    frozenset({"terms", "tariff"}),
    frozenset({"ledger", "agents", "settlement"}),
    frozenset({"gossip"}),
    frozenset({"node"}),
    frozenset({"sim"}),
    frozenset({"cli", "__main__"}),
)
RANK = {area: rank for rank, areas in enumerate(LAYERS) for area in areas}
AREAS = {path.name for path in (ROOT / "market").iterdir() if path.is_dir()} | {
    path.stem for path in (ROOT / "market").glob("*.py") if path.stem != "__init__"
}


def _area(path: Path) -> str:
    parts = path.relative_to(ROOT / "market").with_suffix("").parts
    return parts[0]


def _imported_areas(path: Path) -> list[tuple[int, str]]:
    """The engine areas a module imports, from its relative imports."""
    package = list(path.relative_to(ROOT / "market").parts[:-1])
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not (isinstance(node, ast.ImportFrom) and node.level > 0):
            continue
        base = package[: len(package) - (node.level - 1)]
        target = base + (node.module.split(".") if node.module else [])
        if target:
            found.append((node.lineno, target[0]))
        else:  # `from . import x` at the root: x is an area, or a name of the root
            found.extend((node.lineno, alias.name) for alias in node.names if alias.name in AREAS)
    return found


def test_every_area_has_a_layer() -> None:
    assert AREAS - {"__pycache__"} <= set(RANK), "place the new area in LAYERS"


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_imports_never_go_up_a_layer(path: Path) -> None:
    area = _area(path)
    if area == "__init__":
        return
    for lineno, target in _imported_areas(path):
        assert RANK[target] <= RANK[area], f"{path}:{lineno}: {area} imports {target}, above it"
