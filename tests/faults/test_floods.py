"""Floods from a hostile LAN host against a real headless node process: big bodies on
1,000 connections, slow-loris heads, garbage at a high rate, /redeem guessing. The node
stays bounded (memory, CPU per request, log volume), counts what it refused, and keeps
serving its household and its neighbours (issue #15, findings 2 and 6)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from market.gossip.auth import seal_request
from market.gossip.config import PATH_PREFIX, LimitsConfig
from market.ledger.identity import Identity
from market.node.control import ControlError
from market.node.redeem import REDEEM_ROUTE
from market.terms import CommunityTerms
from tests.faults.flood import (
    MIB,
    body_flood,
    loopback_sources,
    post_once,
    raise_fd_limit,
    request_head,
)
from tests.faults.nodes import Cluster, NodeProcess, genesis_community, wait_for

pytestmark = pytest.mark.faults

LIMITS = LimitsConfig()
# The bodies' flood of issue #15: 1,000 connections of 1 MiB each. From 10 addresses,
# 100 connections each: over the per-address cap (64) and, together, the global one.
FLOOD_CONNECTIONS = 1000
FLOOD_SPREAD = 10
# Before the limits such a flood took a node from 47 MB to 1.21 GB (526 MB and more
# with fewer connections); with them bench_flood measures a peak of 110-130 MB. 300 MB
# is far below the unlimited figure (one in four bodies held at once would cross it)
# and leaves the allocator and a loaded machine more than twice the measured peak.
PEAK_RSS_MB = 300.0
FLOOD_REFUSALS = (
    "connections_refused_total",
    "connections_refused_address",
    "connections_header_timeout",
    "refused_auth_malformed",
    "refused_address_throttled",
    "refused_busy",
)
# What the node may keep once the flood is over, above what it had before it: the
# allocator does not hand every freed page back, but nothing of the bodies stays.
KEPT_RSS_MB = 100.0
SLOW_LORIS_SOCKETS = 200
SLOW_LORIS_SPREAD = 8  # 25 an address: each is admitted, so each must time out
# What a neighbour keeps open for its sync (kept alive between its pulls and pushes,
# a few at once at most): far fewer than the slow-loris sockets
NEIGHBOUR_CONNECTIONS = 8
GARBAGE_REQUESTS = 2000
GARBAGE_AT_ONCE = 32  # under the per-address cap: refused by the gate, not the guard
# Node CPU per refused request: accepting a connection, parsing its head, answering and
# closing, with the kernel's share of the body bytes that arrived meanwhile. Measured
# 1.5 ms here with the test's client on the other core (2.3 ms before the limits, when
# each request was answered 403 after its signature check); 10 ms is a bound for a
# loaded machine, not a measure: what must not grow is the cost of one request.
CPU_PER_REQUEST_S = 0.010
# Log growth over the garbage flood: a few collapsed lines, not one a request (79 MB
# of tracebacks in 35 s before).
LOG_GROWTH_BYTES = 64 * 1024
REDEEM_SOURCES = 4
REDEEM_ATTEMPTS = 50  # per address


async def started_node(tmp_path: Path, cluster: Cluster) -> tuple[NodeProcess, int, int]:
    """A one-member community's node; with its gossip port and a slot open for orders."""
    terms = CommunityTerms()
    (data,), _community = genesis_community(tmp_path, 1, terms, int(time.time()))
    node = cluster.add(data, "127.0.0.1:0")
    await cluster.start()
    return node, await port_of(node), terms.first_open_slot(int(time.time())) + terms.slot_s


async def port_of(node: NodeProcess) -> int:
    address: str = (await node.client.status())["address"]
    return int(address.rsplit(":", 1)[1])


async def counters(node: NodeProcess) -> Counter[str]:
    status: dict[str, Any] = await node.client.status()
    return Counter(status["counters"])


async def wait_connections_closed(node: NodeProcess, kept: int = 0) -> None:
    """Until at most `kept` connections are open at the node (its neighbours' own)."""

    async def closed() -> bool:
        return (await counters(node))["connections_open"] <= kept

    await wait_for(closed, 30, f"{node.name} to close the flood's connections")


async def test_a_flood_of_big_bodies_leaves_the_node_bounded_and_serving_its_household(
    tmp_path: Path, cluster: Cluster
) -> None:
    raise_fd_limit()
    async with asyncio.timeout(240):
        node, port, slot = await started_node(tmp_path, cluster)
        before_mb = node.rss_mb()
        flooding = asyncio.create_task(
            body_flood(port, FLOOD_CONNECTIONS, os.urandom(MIB), FLOOD_SPREAD)
        )
        placed: list[str] = []
        # The household's own orders, one after the other for as long as the flood
        # lasts: each must be acknowledged (an error or the client's timeout fails).
        while not flooding.done():
            placed.append(await node.client.place_order("buy", 100, 500 + len(placed), slot))
        statuses = await flooding
        peak_mb = node.peak_rss_mb()
        print(
            f"flood answers {dict(statuses)}, {len(placed)} orders placed meanwhile; "
            f"RSS {before_mb:.0f} MB, peak {peak_mb:.0f} MB"
        )

        assert peak_mb < PEAK_RSS_MB
        book = {order["order_id"] for order in await node.client.book(slot)}
        assert set(placed) <= book
        assert not [status for status in statuses if status and status >= 500], statuses
        seen = await counters(node)
        print({name: n for name, n in seen.items() if "refused" in name or "conn" in name})
        # every flooding connection was refused once, and counted: by the guard at
        # connect, or from its headers, its body never read
        refused = sum(seen[name] for name in FLOOD_REFUSALS)
        assert refused == FLOOD_CONNECTIONS - statuses[None], seen
        assert seen["connections_refused_total"] + seen["connections_refused_address"] > 0
        assert seen["served"] == 0

        await wait_connections_closed(node)
        after_mb = node.rss_mb()
        print(f"RSS after the flood {after_mb:.0f} MB")
        assert after_mb < before_mb + KEPT_RSS_MB
        assert await node.stop() == 0, node.log_tail()


async def _slow_loris(port: int, source: str, closed: list[int], head: bytes) -> None:
    """Half a request head, then nothing, on one connection after another: counts the
    connections the node closed."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
        except OSError:
            await asyncio.sleep(0.5)
            continue
        try:
            writer.write(head)
            with contextlib.suppress(OSError):
                while await reader.read(1024):
                    pass
            closed.append(1)
        finally:
            writer.close()


async def test_slow_loris_sockets_are_closed_while_the_node_syncs_with_its_neighbour(
    tmp_path: Path, cluster: Cluster
) -> None:
    raise_fd_limit()
    terms = CommunityTerms()
    dirs, _community = genesis_community(tmp_path, 2, terms, int(time.time()))
    slot = terms.first_open_slot(int(time.time())) + terms.slot_s
    attacked = cluster.add(dirs[0], "127.0.0.1:0")
    async with asyncio.timeout(180):
        await cluster.start([attacked])
        neighbour = cluster.add(
            dirs[1], "127.0.0.1:0", peers=[f"127.0.0.1:{await port_of(attacked)}"]
        )
        await cluster.start([neighbour])
        port = await port_of(attacked)
        half_head = request_head(PATH_PREFIX + "/push", 64)[:40]
        closed: list[int] = []
        sources = loopback_sources(SLOW_LORIS_SOCKETS, SLOW_LORIS_SPREAD)
        attack = [asyncio.create_task(_slow_loris(port, s, closed, half_head)) for s in sources]
        try:
            await wait_for(
                lambda: _opened(attacked, SLOW_LORIS_SOCKETS), 30, "the slow-loris sockets"
            )
            # Under the attack, both ways through the attacked node's server: the
            # neighbour pulls the attacked node's order and pushes its own to it.
            own = await attacked.client.place_order("sell", 300, 600, slot)
            theirs = await neighbour.client.place_order("buy", 300, 1500, slot)
            await wait_for(lambda: _holds(neighbour, own), 60, "the neighbour to pull the order")
            await wait_for(lambda: _holds(attacked, theirs), 60, "the push of the neighbour")

            async def all_timed_out() -> bool:
                return len(closed) >= SLOW_LORIS_SOCKETS

            await wait_for(all_timed_out, 60, "the node to close every slow-loris socket")
        finally:
            for task in attack:
                task.cancel()
            await asyncio.gather(*attack, return_exceptions=True)
        seen = await counters(attacked)
        print(f"slow-loris: {len(closed)} closed by the node, counters {dict(seen)}")
        assert seen["connections_header_timeout"] >= SLOW_LORIS_SOCKETS
        # what stays open is the neighbour's: its pooled connections for the sync
        await wait_connections_closed(attacked, kept=NEIGHBOUR_CONNECTIONS)


async def _opened(node: NodeProcess, count: int) -> bool:
    return (await counters(node))["connections_open"] >= count


async def _holds(node: NodeProcess, order_id: str) -> bool:
    try:
        await node.client.held(order_id)
    except ControlError as err:
        if err.status == 404:
            return False
        raise
    return True


async def test_a_garbage_flood_from_one_address_costs_a_header_parse_per_request(
    tmp_path: Path, cluster: Cluster
) -> None:
    async with asyncio.timeout(240):
        node, port, _slot = await started_node(tmp_path, cluster)
        body = os.urandom(MIB)
        statuses: Counter[int | None] = Counter()
        todo = iter(range(GARBAGE_REQUESTS))
        log_before = node.log_path.stat().st_size
        cpu_before = node.cpu_s()

        async def attacker() -> None:
            for _ in todo:
                statuses[await post_once(port, "127.0.0.2", body)] += 1

        await asyncio.gather(*(attacker() for _ in range(GARBAGE_AT_ONCE)))
        cpu_s = node.cpu_s() - cpu_before
        log_growth = node.log_path.stat().st_size - log_before
        seen = await counters(node)
        print(
            f"garbage: answers {dict(statuses)}; node CPU {cpu_s:.2f} s "
            f"({cpu_s / GARBAGE_REQUESTS * 1000:.2f} ms a request); log +{log_growth} bytes"
        )

        # The budget's refusals (20, and one a second since), then 429 from the headers.
        assert seen["refused_address_throttled"] >= GARBAGE_REQUESTS // 2
        assert statuses[429] > 0
        assert not [status for status in statuses if status and status >= 500], statuses
        assert cpu_s / GARBAGE_REQUESTS < CPU_PER_REQUEST_S
        assert log_growth < LOG_GROWTH_BYTES, node.log_tail()
        assert "Traceback" not in node.log_path.read_text(errors="replace")
        await wait_connections_closed(node)
        assert await node.stop() == 0, node.log_tail()


async def _redeem_attempts(
    port: int, source: str, node_key: bytes, community_id: bytes
) -> AsyncIterator[int]:
    """Sealed redeem requests of a newcomer guessing codes, one after the other."""
    path = PATH_PREFIX + REDEEM_ROUTE
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(REDEEM_ATTEMPTS):
            guess = seal_request(
                Identity.generate(), node_key, "POST", path, community_id, os.urandom(200)
            )
            async with session.post(
                f"http://127.0.0.1:{port}{path}", data=guess.body, headers=guess.headers
            ) as answer:
                await answer.read()
                yield answer.status


async def test_a_redeem_flood_is_throttled_and_the_node_carries_on(
    tmp_path: Path, cluster: Cluster
) -> None:
    async with asyncio.timeout(180):
        node, port, slot = await started_node(tmp_path, cluster)
        status = await node.client.status()
        node_key = bytes.fromhex(status["node_id"])
        community_id = bytes.fromhex(status["community_id"])
        statuses: Counter[int] = Counter()

        async def guesser(source: str) -> None:
            async for answer in _redeem_attempts(port, source, node_key, community_id):
                statuses[answer] += 1

        await asyncio.gather(
            *(guesser(s) for s in loopback_sources(REDEEM_SOURCES, REDEEM_SOURCES))
        )
        seen = await counters(node)
        print(f"redeem: answers {dict(statuses)}; counters {dict(seen)}")

        attempts = REDEEM_SOURCES * REDEEM_ATTEMPTS
        # each address gets its burst (10) of answers, then 429 until it refills
        admitted = REDEEM_SOURCES * int(LIMITS.redeem_burst)
        assert seen["redeem_refused_redeem_throttled"] >= (attempts - admitted) // 2
        assert statuses[429] == seen["redeem_refused_redeem_throttled"]
        assert not [s for s in statuses if s >= 500], statuses
        # the household's own API and the node's other routes are untouched
        await node.client.place_order("sell", 200, 700, slot)
        assert (await counters(node))["redeem_admitted"] == 0
        assert await node.stop() == 0, node.log_tail()
