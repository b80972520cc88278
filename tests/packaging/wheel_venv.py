"""The engine as a user installs it: a wheel built from the repository, installed into a
fresh venv of the Python running the tests, with its dependencies from the wheelhouse
`scripts/bootstrap 3.11` keeps (offline, so the test does not depend on the index)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(sys.prefix) / "wheels"
# What a source checkout or archive must hold for `pip install .` to build the engine.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "market")


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the engine's wheel installed."""

    wheel: Path
    venv: Path
    build_log: str

    @property
    def script(self) -> Path:
        """The `p2p-energy` console script."""
        return self.venv / "bin" / "p2p-energy"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a process that must not see the repository's sources."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(extra)
    return env


def _pip(python: str | Path, *args: str | Path, cwd: Path) -> str:
    """Run pip offline, ignoring the machine's pip configuration; returns its output."""
    done = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(PIP_CONFIG_FILE=os.devnull),
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def build_and_install(root: Path) -> Installed:
    """Build the wheel under `root` and install it into a fresh venv there."""
    # Build from a copy holding only the sources, as from a release archive: setuptools
    # writes build/ and *.egg-info next to them, which must not land in the working tree.
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = root / "dist"
    # -v: pip shows the build backend's output (its deprecation warnings) only then.
    build_log = _pip(
        sys.executable, "-v", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "-w", dist, source, cwd=root,
    )  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], check=True, env=clean_env(), timeout=300
    )
    _pip(
        venv / "bin" / "python", "--quiet", "install", "--no-index",
        "--find-links", WHEELHOUSE, wheel, cwd=root,
    )  # fmt: skip
    return Installed(wheel, venv, build_log)
