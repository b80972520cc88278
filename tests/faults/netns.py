"""A LAN of separate hosts: one network namespace per node, all plugged into a bridge
(the switch) that lives in a namespace of its own. Cutting a host's switch port is a
partition; plugging it back is the heal. Needs root (`ip netns`)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUBNET = "10.77.0"
PORT = 8765
_NETNS_DIR = Path("/run/netns")
# Namespace names carry the test process's pid: names never collide between parallel
# workers, and leftovers of a process that was killed can be told apart and removed.
_PREFIX = "pf"
_serial = itertools.count()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def can_use_netns() -> str | None:
    """None when this process may create namespaces, else why not (for the skip)."""
    if os.geteuid() != 0:
        return "network namespaces (ip netns) need root; run the fault suite as root"
    return None


def sweep_leftovers() -> None:
    """Delete the namespaces of test processes that no longer exist."""
    if not _NETNS_DIR.is_dir():
        return
    for path in _NETNS_DIR.iterdir():
        match = re.fullmatch(rf"{_PREFIX}(\d+)-\d+-\w+", path.name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            subprocess.run(["ip", "netns", "del", path.name], check=False, capture_output=True)


@dataclass(frozen=True, slots=True)
class Host:
    """A node's namespace: its name, its switch port, its address on the LAN."""

    netns: str
    port_name: str
    ip: str

    @property
    def address(self) -> str:
        return f"{self.ip}:{PORT}"


class Lan:
    """A switch and the hosts plugged into it; `close` removes every namespace."""

    def __init__(self) -> None:
        self.tag = f"{_PREFIX}{os.getpid()}-{next(_serial)}"
        self.switch = f"{self.tag}-sw"
        self.hosts: list[Host] = []
        self._made: list[str] = []
        try:
            self._add_netns(self.switch)
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.switch, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def add_host(self) -> Host:
        """A new namespace with one interface, eth0, on the switch."""
        index = len(self.hosts)
        host = Host(f"{self.tag}-h{index}", f"p{index}", f"{SUBNET}.{index + 1}")
        self._add_netns(host.netns)
        _ip(
            "link", "add", host.port_name, "netns", self.switch, "type", "veth",
            "peer", "name", "eth0", "netns", host.netns,
        )  # fmt: skip
        _ip("-n", self.switch, "link", "set", host.port_name, "master", "br0", "up")
        _ip("-n", host.netns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        _ip("-n", host.netns, "link", "set", "eth0", "up")
        self.hosts.append(host)
        return host

    def cut(self, host: Host) -> None:
        """Unplug the host: nothing reaches it, it reaches nobody."""
        _ip("-n", self.switch, "link", "set", host.port_name, "down")

    def mend(self, host: Host) -> None:
        """Plug it back in."""
        _ip("-n", self.switch, "link", "set", host.port_name, "up")

    def close(self) -> None:
        for name in reversed(self._made):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        self._made = []
