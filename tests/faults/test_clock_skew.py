"""A node whose clock is a minute ahead, beyond the 30 s window of signed requests: its
neighbours refuse every request of it, and its status must say that its clock is off,
so that its household is told to fix NTP (issue #15, findings 4 and 6)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from market.terms import CommunityTerms
from tests.faults.nodes import Cluster, genesis_community, wait_for

pytestmark = pytest.mark.faults

AHEAD_S = 60.0
WINDOW_MS = 30_000


async def test_a_node_a_minute_ahead_reports_its_clock_skew(
    tmp_path: Path, cluster: Cluster
) -> None:
    dirs, _community = genesis_community(tmp_path, 2, CommunityTerms(), int(time.time()))
    on_time = cluster.add(dirs[0], "127.0.0.1:0")
    async with asyncio.timeout(60):
        await cluster.start([on_time])
        address = (await on_time.client.status())["address"]
        ahead = cluster.add(dirs[1], "127.0.0.1:0", peers=[address], clock_offset_s=AHEAD_S)
        # It cannot confirm its chain with a neighbour that refuses it: it waits.
        await cluster.start([ahead], signing=False)

        async def reports_skew() -> bool:
            status = await ahead.client.status()
            skew = status["clock_skew_ms"]
            # positive when the peers are ahead: this node is ahead, so it is negative;
            # learnt from its neighbour's refusals, as it receives no entries to measure
            return skew is not None and skew <= -WINDOW_MS and status["clock_refusals"] == 1

        await wait_for(reports_skew, 30, "the skewed node to report its clock skew")
