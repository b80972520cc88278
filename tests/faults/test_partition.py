"""A partition and its heal, with every node a separate host (network namespaces on a
bridge): the cut-off node reaches the majority's verdicts, and no acknowledged order is
lost on either side (issue #15, finding 6)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.netns import Lan
from tests.faults.nodes import (
    FAST_TERMS,
    SPEED,
    Cluster,
    NodeProcess,
    SimClock,
    genesis_community,
    verdicts_of,
    wait_converged,
)
from tests.faults.orders import Placed, check_held_intact, next_slot, place_round

pytestmark = pytest.mark.faults

NODES = 4  # three of four are a quorum (more than two thirds): the majority decides
TERMS = FAST_TERMS


@dataclass
class Partition:
    """A community of NODES hosts whose last one is cut off for two slots."""

    clock: SimClock
    nodes: list[NodeProcess]
    placed: dict[str, Placed]
    first: int  # decided before the cut
    cut_slots: list[int]  # whose deadline passed during the cut
    cut_off_verdicts: dict[int, tuple[object, ...]]  # the lone node's, before the heal

    @property
    def alone(self) -> NodeProcess:
        return self.nodes[-1]

    @property
    def majority(self) -> list[NodeProcess]:
        return self.nodes[:-1]


async def _wall_sleep_until(clock: SimClock, market_s: float) -> None:
    await asyncio.sleep(max(0.0, (market_s - clock.now_s()) / SPEED))


async def _partition(
    tmp_path: Path, cluster: Cluster, lan: Lan, *, alone_trades_in_the_cut: bool
) -> Partition:
    """Start, trade one slot, cut the last host off for two slots (placing orders on
    both sides), and plug it back in."""
    clock = SimClock.now()
    hosts = [lan.add_host() for _ in range(NODES)]
    dirs, _community = genesis_community(tmp_path, NODES, TERMS, clock.start_s)
    nodes = [
        cluster.add(
            data,
            host.address,
            netns=host.netns,
            sim_clock=clock,
            peers=[other.address for other in hosts if other is not host],
        )
        for data, host in zip(dirs, hosts, strict=True)
    ]
    await cluster.start()
    # The community trades before the cut: a first slot is final everywhere.
    first = next_slot(TERMS, clock)
    placed = await place_round(nodes, first)
    await wait_converged(nodes, [first], 40)
    assert (await verdicts_of(nodes[-1], [first]))[first][0] == "final", cluster.logs()

    lan.cut(hosts[-1])
    cut_slots = [next_slot(TERMS, clock)]
    cut_slots.append(cut_slots[0] + TERMS.slot_s)
    traders = nodes if alone_trades_in_the_cut else nodes[:-1]
    placed |= await place_round(traders, cut_slots[0])
    if not alone_trades_in_the_cut:
        # Acknowledged while cut off, for a slot well after the heal: it must get out.
        later = cut_slots[-1] + 10 * TERMS.slot_s
        placed |= await place_round(nodes[-1:], later)
    placed |= await place_round(nodes[:-1], cut_slots[1])
    await _wall_sleep_until(clock, cut_slots[-1] + 1)  # past the last finality deadline
    cut_off = await verdicts_of(nodes[-1], cut_slots)
    lan.mend(hosts[-1])
    return Partition(clock, nodes, placed, first, cut_slots, cut_off)


async def test_a_cut_off_node_reaches_the_majoritys_verdicts_after_the_heal(
    tmp_path: Path, cluster: Cluster, lan: Lan
) -> None:
    async with asyncio.timeout(150):
        run = await _partition(tmp_path, cluster, lan, alone_trades_in_the_cut=False)
        await wait_converged(run.nodes, [run.first, *run.cut_slots], 60)
        await check_held_intact(run.nodes, run.placed)
        late = {o["slot"]: o for o in await run.alone.client.outcomes()}
    # The cut bit: the lone node could not decide with the others in time (it saw the
    # slots disputed at their deadline), and learnt the majority's final results later.
    assert all(state == "disputed" for state, *_ in run.cut_off_verdicts.values())
    final = [slot for slot in run.cut_slots if late[slot]["state"] == "final"]
    # (a slot whose seals diverged at the majority too stays disputed everywhere, alike)
    assert final, f"the majority decided no cut slot: {late}"
    assert all(late[slot]["late"] for slot in final)


async def test_a_node_that_traded_while_cut_off_reaches_the_majoritys_verdicts(
    tmp_path: Path, cluster: Cluster, lan: Lan
) -> None:
    async with asyncio.timeout(120):
        run = await _partition(tmp_path, cluster, lan, alone_trades_in_the_cut=True)
        await wait_converged(run.nodes, [run.first, *run.cut_slots], 30)
        await check_held_intact(run.nodes, run.placed)
