"""Headless nodes as separate processes (`python -m market node`), driven through their
control socket and read back from their data dirs, never through gossip internals: the
suite must hold whatever the transport between the nodes becomes."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from market.ledger import Kind, Ledger
from market.ledger.community import Community
from market.node import DataDir
from market.node.control import ControlClient, ControlError
from market.terms import CommunityTerms
from tests.faults.flood import memory_mb

ROOT = Path(__file__).resolve().parents[2]
# A minute-long slot whose gate closes 20 s ahead and is sealed 10 s after: with the
# accelerated clock below, a slot passes in 6 s of wall time.
FAST_TERMS = CommunityTerms(slot_s=60, gate_lead_s=20, seal_margin_s=10)
SPEED = 10
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # A node outlives nothing: if the test process is killed (a timeout, Ctrl-C twice),
    # the kernel kills its nodes too. `ip netns exec` execs in place, so this holds.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class SimClock:
    """One accelerated clock for a whole community (`--sim-clock START:ANCHOR:SPEED`)."""

    start_s: int
    anchor_s: int
    speed: int = SPEED

    @classmethod
    def now(cls, speed: int = SPEED) -> SimClock:
        wall = int(time.time())
        return cls(wall, wall, speed)

    def now_s(self) -> float:
        return self.start_s + (time.time() - self.anchor_s) * self.speed

    def arg(self) -> str:
        return f"{self.start_s}:{self.anchor_s}:{self.speed}"


def genesis_community(
    root: Path, count: int, terms: CommunityTerms, created_s: int
) -> tuple[list[DataDir], Community]:
    """`count` data dirs whose keys are all genesis members of one new community: no
    invites, so no probation or quota, and every node seals (votes) from the start."""
    dirs = [DataDir(root / f"node{i}") for i in range(count)]
    keys = [data.identity().public_key for data in dirs]
    community = Community.create("Rue des Pannes", created_s * 1000, keys, terms)
    for data in dirs:
        data.save_community(community)
    return dirs, community


@dataclass
class NodeProcess:
    """One node process; `client` talks to its control socket."""

    name: str
    data: DataDir
    socket: Path
    log_path: Path
    listen: str
    peers: Sequence[str] = ()
    advertise: str | None = None
    netns: str | None = None
    sim_clock: SimClock | None = None
    clock_offset_s: float = 0.0
    proc: asyncio.subprocess.Process | None = None
    client: ControlClient = field(init=False)

    def command(self) -> list[str]:
        market = ["-m", "market"]
        if self.clock_offset_s:
            market = ["-m", "tests.faults.skewed", str(self.clock_offset_s)]
        cmd = [sys.executable, *market, "node", "--data-dir", str(self.data.path)]
        cmd += ["--listen", self.listen, "--no-zeroconf", "--control-socket", str(self.socket)]
        for peer in self.peers:
            cmd += ["--peer", peer]
        if self.advertise is not None:
            cmd += ["--advertise", self.advertise]
        if self.sim_clock is not None:
            cmd += ["--sim-clock", self.sim_clock.arg()]
        if self.netns is not None:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        return cmd

    async def start(self) -> None:
        """Spawn the process (its log appends to `log_path`)."""
        self.socket.unlink(missing_ok=True)
        with self.log_path.open("a") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command(),
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                preexec_fn=_die_with_parent,
            )
        self.client = ControlClient(self.socket, timeout_s=15.0)

    async def wait_ready(self, limit_s: float = 30.0, *, signing: bool = True) -> dict[str, Any]:
        """Until the node answers on its socket and (if `signing`) its chain is ready;
        returns its status."""
        status: dict[str, Any] = {}

        async def ready() -> bool:
            nonlocal status
            self.check_alive()
            if not self.socket.exists():
                return False
            try:
                status = await self.client.status()
            except (OSError, ControlError):
                return False
            return not signing or status["chain"] == "ready"

        await wait_for(ready, limit_s, f"{self.name} to start")
        return status

    def check_alive(self) -> None:
        """Raise, with the log's tail, if the process has exited."""
        if self.proc is not None and self.proc.returncode is not None:
            raise AssertionError(
                f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, limit_s: float = 20.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited in `limit_s`; the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(limit_s):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self.client.close()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def kill(self) -> None:
        """SIGKILL: no cleanup of any kind in the node."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()
        await self.client.close()

    # The floods' measures (tests/faults/test_floods.py, the `limits` work): what the
    # kernel says the node process uses.
    def rss_mb(self) -> float:
        """Resident memory of the node process now, from /proc."""
        assert self.proc is not None
        return memory_mb(self.proc.pid)["VmRSS"]

    def peak_rss_mb(self) -> float:
        """The most resident memory the node process has had (`VmHWM`)."""
        assert self.proc is not None
        return memory_mb(self.proc.pid)["VmHWM"]

    def cpu_s(self) -> float:
        """CPU time (user + system) the node process has used, from /proc."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cluster:
    """The node processes of one test; `close` ends every one of them, whatever happened."""

    def __init__(self, workdir: Path, socket_dir: Path) -> None:
        self.workdir = workdir
        self.socket_dir = socket_dir
        self.nodes: list[NodeProcess] = []

    def add(self, data: DataDir, listen: str, **options: Any) -> NodeProcess:
        name = data.path.name
        node = NodeProcess(
            name=name,
            data=data,
            socket=self.socket_dir / f"{name}.sock",
            log_path=self.workdir / f"{name}.log",
            listen=listen,
            **options,
        )
        self.nodes.append(node)
        return node

    async def start(
        self, nodes: Sequence[NodeProcess] | None = None, *, signing: bool = True
    ) -> None:
        """Spawn, then wait until each answers and (if `signing`) signs; in parallel."""
        chosen = list(self.nodes if nodes is None else nodes)
        for node in chosen:
            await node.start()
        await self.ready(chosen, signing=signing)

    async def ready(
        self, nodes: Sequence[NodeProcess] | None = None, *, signing: bool = True
    ) -> None:
        """Wait until each of the running nodes answers and (if `signing`) signs."""
        chosen = list(self.nodes if nodes is None else nodes)
        await asyncio.gather(*(node.wait_ready(signing=signing) for node in chosen))

    async def close(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    await node.stop(limit_s=10.0)

    def logs(self) -> str:
        return "\n".join(f"--- {node.name}\n{node.log_tail()}" for node in self.nodes)


async def wait_for(check: Callable[[], Awaitable[bool]], limit_s: float, what: str) -> None:
    """Poll `check` until it holds; fail after `limit_s` (a bound, not a measure)."""
    try:
        async with asyncio.timeout(limit_s):
            while not await check():  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out after {limit_s} s waiting for {what}") from None


async def divergence(nodes: Sequence[NodeProcess], slots: Sequence[int]) -> str:
    """What differs between the nodes' chains and verdicts on `slots` ("" if nothing)."""
    heads = [await node.client.heads() for node in nodes]
    verdicts = [await verdicts_of(node, slots) for node in nodes]
    differences = []
    for node, its_heads, its_verdicts in zip(nodes, heads, verdicts, strict=True):
        if its_heads != heads[0]:
            seqs = {author[:8]: seq for author, (seq, _head) in its_heads.items()}
            differences.append(f"{node.name} heads {seqs}")
        if len(its_verdicts) != len(slots) or its_verdicts != verdicts[0]:
            differences.append(f"{node.name} verdicts {its_verdicts}")
    if differences:
        first = {author[:8]: seq for author, (seq, _head) in heads[0].items()}
        differences.insert(0, f"{nodes[0].name} heads {first}")
    return "; ".join(differences)


async def wait_converged(
    nodes: Sequence[NodeProcess], slots: Sequence[int], limit_s: float
) -> None:
    """Until every node holds the same chains and the same verdict on each of `slots`."""
    last = ""

    async def check() -> bool:
        nonlocal last
        last = await divergence(nodes, slots)
        return not last

    try:
        await wait_for(check, limit_s, "the same chains and verdicts everywhere")
    except AssertionError as err:
        raise AssertionError(f"{err}: {last}") from None


async def verdicts_of(node: NodeProcess, slots: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """slot -> (state, order root, result hash) for the decided ones among `slots`."""
    wanted = set(slots)
    return {
        o["slot"]: (o["state"], o["order_root"], o["result_hash"])
        for o in await node.client.outcomes()
        if o["slot"] in wanted
    }


async def orders_on_disk(data: DataDir) -> dict[str, bytes]:
    """Order id -> entry body of every order in the data dir's ledger (the node stopped)."""
    ledger = await Ledger.open(data.ledger_dir, data.community(), None)
    try:
        return {entry.hash.hex(): entry.body for entry in await ledger.entries(kind=Kind.ORDER)}
    finally:
        await ledger.close()
