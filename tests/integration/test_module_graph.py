"""The integration's modules import each other without a cycle, and each imports alone."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "custom_components" / "p2p_energy"
MODULES = sorted(path.stem for path in INTEGRATION.glob("*.py"))


def _siblings(path: Path) -> set[str]:
    """The integration modules `path` imports, `if TYPE_CHECKING:` blocks included:
    a cycle through a type-only import is still two modules that need each other."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & set(MODULES)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            if found := visit(imported, [*path, module]):
                return found
        done.add(module)
        return None

    for module in MODULES:
        if found := visit(module, []):
            return found
    return None


def test_no_import_cycle_among_the_integrations_modules() -> None:
    graph = {name: _siblings(INTEGRATION / f"{name}.py") for name in MODULES}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_finds_one() -> None:
    assert _cycle({name: set() for name in MODULES}) is None
    looped = {name: set() for name in MODULES} | {"runtime": {"market_hub"}}
    looped["market_hub"] = {"runtime"}
    assert _cycle(looped) == ["market_hub", "runtime", "market_hub"]


def test_each_module_imports_on_its_own() -> None:
    """Any module can be the first one imported (after the package's `__init__`, which
    Python always runs first): the package is forgotten between imports, in a fresh
    interpreter."""
    script = textwrap.dedent(
        """
        import importlib, sys
        for name in sys.argv[1:]:
            for loaded in [m for m in sys.modules if m.startswith("custom_components")]:
                del sys.modules[loaded]
            importlib.import_module(f"custom_components.p2p_energy.{name}")
        """
    )
    modules = [name for name in MODULES if name != "__init__"]
    proc = subprocess.run(
        [sys.executable, "-c", script, *modules],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
