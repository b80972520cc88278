"""Fixtures of the fault suite: node processes and namespaces that are always torn down."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.faults.netns import Lan, can_use_netns, sweep_leftovers
from tests.faults.nodes import Cluster


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for control sockets (a Unix socket path has ~107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="pf", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def cluster(tmp_path: Path, socket_dir: Path) -> AsyncIterator[Cluster]:
    """The test's node processes; each is stopped (killed if it hangs) at the end."""
    nodes = Cluster(tmp_path, socket_dir)
    try:
        yield nodes
    finally:
        await nodes.close()


@pytest.fixture
def lan() -> Iterator[Lan]:
    """A switch and namespaces of this test's own. Without root it skips, with a reason;
    as root (CI) a failure to build it is an error, never a skip."""
    reason = can_use_netns()
    if reason is not None:
        pytest.skip(reason)
    sweep_leftovers()
    network = Lan()
    try:
        yield network
    finally:
        network.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of this test's own, unmounted at the end. Mounting needs root."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; run the fault suite as root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount_point)],
        check=True,
        timeout=10,
    )
    try:
        yield mount_point
    finally:
        # lazily: a node that is still being killed may hold a file open for an instant
        subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=10)
