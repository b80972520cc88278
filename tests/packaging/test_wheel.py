"""`pip install .` gives a working `p2p-energy` command on the Python of Raspberry Pi OS."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from market import __version__
from tests.packaging.wheel_venv import Installed, clean_env

pytestmark = pytest.mark.e2e


def _script(installed: Installed, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed.script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        timeout=60,
        check=False,
    )


def test_the_console_script_runs_the_engine_installed_in_the_venv(
    installed: Installed, tmp_path: Path
) -> None:
    version = _script(installed, "--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, f"p2p-energy {__version__}")

    top = _script(installed, "--help", cwd=tmp_path)
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("usage: p2p-energy ")
    for command in ("node", "invite", "simulate"):
        assert command in top.stdout

    node = _script(installed, "node", "--help", cwd=tmp_path)
    assert node.returncode == 0, node.stderr
    assert node.stdout.startswith("usage: p2p-energy node ")
    assert "--data-dir" in node.stdout

    # The command imports the installed copy, not the repository's sources.
    where = subprocess.run(
        [str(installed.python), "-c", "import market; print(market.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(),
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.venv)


def test_a_node_without_a_community_says_how_to_set_one_up(
    installed: Installed, tmp_path: Path
) -> None:
    result = _script(
        installed, "node", "--data-dir", str(tmp_path / "node"), "--no-zeroconf", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "create one (--create NAME) or join one (--join INVITE)" in result.stderr


def test_the_wheel_declares_python_3_11_its_license_and_its_types(installed: Installed) -> None:
    # setuptools warns about metadata it will stop accepting (the license table form).
    assert "Warning" not in installed.build_log, installed.build_log
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        (metadata_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = wheel.read(metadata_name).decode()
        (entry_points_name,) = (n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = wheel.read(entry_points_name).decode()
    assert "Requires-Python: >=3.11" in metadata.splitlines()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "market/py.typed" in names
    assert not [name for name in names if name.startswith(("tests/", "custom_components/"))]
    assert "p2p-energy = market.cli:script_main" in entry_points
