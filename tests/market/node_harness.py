"""Real market nodes on loopback sharing one manual clock, for the node tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from market.gossip import GossipConfig
from market.gossip.config import LimitsConfig
from market.ledger.community import Community
from market.node import Node, NodeConfig
from market.node.clock import ManualClock
from market.node.datadir import DataDir
from market.node.events import NodeEvent
from market.node.lockstep import step_to
from market.terms import CommunityTerms

# Anti-entropy never idles beyond 0.5 s either, so a stopped peer is noticed quickly.
FAST_GOSSIP = GossipConfig(
    pull_interval_s=0.1,
    pull_idle_max_s=0.5,
    push_delay_s=0.002,
    backoff_base_s=0.05,
    backoff_max_s=0.2,
    # on loopback every peer connects from 127.0.0.1
    limits=LimitsConfig(max_connections_per_address=256),
)
# A TypeVar rather than `def of_type[E]`: these tests also run on Python 3.11.
_E = TypeVar("_E")
# A Thursday, aligned to 15 min; the tests' slots start from here.
T0 = 1_800_000_000 - 1_800_000_000 % 900


@dataclass
class Household:
    """A running node and the events it emitted."""

    node: Node
    events: list[NodeEvent] = field(default_factory=list)

    def of_type(self, kind: type[_E]) -> list[_E]:
        return [event for event in self.events if isinstance(event, kind)]


def make_community(
    root: Path, count: int, terms: CommunityTerms | None = None, name: str = "Rue Test"
) -> tuple[list[DataDir], Community]:
    """Data dirs with keys, and a community whose genesis members are all of them."""
    dirs = [DataDir(root / f"house{i}") for i in range(count)]
    keys = [data.identity().public_key for data in dirs]
    community = Community.create(name, T0 * 1000, keys, terms or CommunityTerms())
    for data in dirs:
        data.save_community(community)
    return dirs, community


async def start_household(data: DataDir, clock: ManualClock, **config: object) -> Household:
    node = await Node.open(
        NodeConfig(data_dir=data.path, gossip=FAST_GOSSIP, **config),  # type: ignore[arg-type]
        clock=clock,
    )
    household = Household(node)
    node.subscribe(household.events.append)
    await node.start()
    return household


def mesh(households: list[Household]) -> None:
    for house in households:
        for other in households:
            if other is not house and other.node.address is not None:
                house.node.add_peer(other.node.address)


def partition(groups: list[list[Household]]) -> None:
    """Only nodes of the same group know each other."""
    everyone = [house for group in groups for house in group]
    for house in everyone:
        for peer in house.node.peers.all():
            house.node.peers.remove(peer.url)
    for group in groups:
        mesh(group)


async def wait_until(check: Callable[[], bool], limit_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def advance(clock: ManualClock, households: list[Household], t_s: int) -> None:
    """Step the households' nodes in lockstep to `t_s` (see market.node.lockstep)."""
    await step_to(clock, [house.node for house in households], t_s * 1000, limit_s=10.0)


async def run_slot(clock: ManualClock, households: list[Household], slot: int) -> None:
    """Seal `slot` on every node, sync, then pass its start (the finality deadline)."""
    terms = households[0].node.terms
    await advance(clock, households, terms.seal_time(slot))
    await advance(clock, households, slot)


async def start_neighbourhood(
    root: Path, running: list[Household], count: int, **config: object
) -> tuple[ManualClock, list[DataDir], Community]:
    """`count` households of a new community on one manual clock, all peers of all."""
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(root, count)
    running.extend([await start_household(data, clock, **config) for data in dirs])
    mesh(running)
    return clock, dirs, community
