"""A data directory the node cannot use stops it at start with one clear line, never a
traceback (issue #15, finding 4): read-only, not a directory, an unreadable key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from market.ledger.community import Community
from market.node import Node, NodeConfig
from market.node.datadir import DataDir
from market.node.errors import DataDirError
from market.terms import CommunityTerms
from tests.market.node_harness import T0
from tests.market.read_only import read_only

ROOT = Path(__file__).resolve().parents[2]
_LOCAL = ("--listen", "127.0.0.1:0", "--no-zeroconf")


def _member_dir(path: Path) -> DataDir:
    data = DataDir(path)
    community = Community.create("Rue", T0 * 1000, [data.identity().public_key], CommunityTerms())
    data.save_community(community)
    return data


def _node(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "market", "node", "--data-dir", str(data_dir), *args, *_LOCAL],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=data_dir.parent if data_dir.parent.is_dir() else None,
        timeout=60,
    )


def _cannot_start(proc: subprocess.CompletedProcess[str]) -> str:
    """The node's one error line, once it is known it exited with it, no traceback."""
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if "level=error" in line]
    assert "cannot start: " in line
    return line


def test_a_read_only_data_dir_cannot_start(tmp_path: Path) -> None:
    data = _member_dir(tmp_path / "node")
    with read_only(data.path):
        line = _cannot_start(_node(data.path))
    assert f"cannot write in {data.path}" in line
    assert "Read-only file system" in line or "Permission denied" in line


def test_a_key_that_cannot_be_created_cannot_start(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with read_only(empty):
        line = _cannot_start(_node(empty, "--create", "Rue"))
    assert f"cannot read or create the node key in {empty}" in line


def test_an_unreadable_key_cannot_start(tmp_path: Path) -> None:
    data = tmp_path / "node"
    (data / "node_key").mkdir(parents=True)  # what a bad restore can leave behind
    line = _cannot_start(_node(data, "--create", "Rue"))
    assert f"cannot read or create the node key in {data}" in line
    assert "Is a directory" in line


@pytest.mark.parametrize("create", [True, False], ids=["create", "start"])
def test_a_data_dir_that_is_a_file_cannot_start(tmp_path: Path, create: bool) -> None:
    a_file = tmp_path / "node"
    a_file.write_text("not a directory")
    line = _cannot_start(_node(a_file, *(["--create", "Rue"] if create else [])))
    assert f"{a_file} is not a directory" in line


async def test_a_host_is_told_the_data_dir_cannot_be_written(tmp_path: Path) -> None:
    """Home Assistant retries the set-up on this error: the user may fix the disk."""
    data = _member_dir(tmp_path / "node")
    with read_only(data.path), pytest.raises(DataDirError, match="cannot write in"):
        await Node.open(NodeConfig(data_dir=data.path))
    node = await Node.open(NodeConfig(data_dir=data.path))  # writable again: it opens
    await node.stop()
