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
