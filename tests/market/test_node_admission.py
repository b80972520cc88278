"""One bad member cannot grow the community at will or stop its market (issue #14):
real nodes on loopback, a hostile member writing its chain by hand."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from market.ledger.codec import ZERO_HASH
from market.ledger.identity import Identity
from market.ledger.kinds import Kind
from market.ledger.ledger import Origin
from market.node.clock import ManualClock
from market.node.events import SlotDisputed
from market.node.finality import SlotState
from tests.market.ledger_helpers import ChainWriter
from tests.market.node_harness import T0, Household, make_community, mesh, run_slot
from tests.market.node_harness import start_household as start

SLOTS = (T0 + 1800, T0 + 2700, T0 + 3600)


async def _community_with_a_hostile_member(
    tmp_path: Path, running: list[Household], honest: int = 4
) -> tuple[ManualClock, ChainWriter, list[Identity]]:
    """`honest` running households and one more genesis member, the hostile one, whose
    chain the test writes; returns the clock, its writer and the keys it will admit."""
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, honest + 1)
    running.extend([await start(data, clock) for data in dirs[:honest]])
    mesh(running)
    hostile = ChainWriter(dirs[honest].identity(), community)
    hostile.ts = T0 * 1000
    sybils = [Identity(os.urandom(32)) for _ in range(12)]
    return clock, hostile, sybils


async def _push(running: list[Household], writer: ChainWriter, body: bytes) -> None:
    """The hostile member signs one more admit and pushes it to every honest node; its
    chain goes on from what they hold (a refused entry leaves no gap)."""
    frame = writer.frame(body, Kind.ADMIT, ts=writer.ts + 10)
    for house in running:
        await house.node.ledger.ingest(frame, Origin(key=writer.identity.public_key))
    held = (await running[0].node.ledger.frontier()).get(writer.identity.public_key)
    writer.seq, writer.prev = (0, ZERO_HASH) if held is None else held


def _assert_market_runs(running: list[Household], members: int) -> None:
    for house in running:
        assert house.node.status().members == members
        for slot in SLOTS:
            outcome = house.node.outcome(slot)
            disputes = house.of_type(SlotDisputed)
            assert outcome is not None and outcome.state is SlotState.FINAL, (slot, disputes)


async def test_admits_without_a_members_invite_neither_grow_nor_stop_the_community(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, hostile, sybils = await _community_with_a_hostile_member(tmp_path, running)
    for sybil in sybils:
        # admit(key, zero tag): the layout that needed no invite at all
        await _push(running, hostile, struct.pack(">32s32s", sybil.public_key, bytes(32)))
        # a made-up invite in the admit's current layout: no member signed it
        forged = struct.pack(
            ">32s32s32sQ64s64sB",
            sybil.public_key,
            os.urandom(32),
            hostile.identity.public_key,
            T0 + 86_400,
            os.urandom(64),
            os.urandom(64),
            14,
        )
        await _push(running, hostile, forged + b"192.0.2.1:8123")
    for slot in SLOTS:
        await run_slot(clock, running, slot)
    _assert_market_runs(running, members=5)
    counters = running[0].node.status().counters
    assert counters["rejected_body_schema"] == counters["rejected_invite"] == len(sybils)
