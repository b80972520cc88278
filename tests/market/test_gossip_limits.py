"""What the node's HTTP server grants a stranger: a few refusals, then nothing but a
429 from the headers; capped connections; slow heads closed; /redeem rated; pulls
bounded, and read beside the household's own appends."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from market.gossip.auth import SealedRequest, seal_request
from market.gossip.config import GossipConfig, LimitsConfig
from market.gossip.guard import ConnectionGuard
from market.gossip.sealed import decode_reply
from market.gossip.server import GossipServer, start_site
from market.gossip.wire import encode_frontier, encode_wants
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.kinds import Kind
from market.ledger.ledger import Ledger
from market.node import Node, NodeConfig
from market.node.clock import ManualClock
from market.node.redeem import RedeemService
from tests.market.ledger_helpers import clock_ms, community_of, identities, order
from tests.market.node_harness import FAST_GOSSIP, T0, make_community

PREFIX = "/p2p/v2"
MIB = 1 << 20
# generous bounds on waiting, never asserted as durations
PATIENCE_S = 15.0


@dataclass
class Served:
    """A member's ledger served by the sync and redeem routes behind a guard."""

    ledger: Ledger
    server: GossipServer
    guard: ConnectionGuard
    runner: web.AppRunner
    port: int
    community: Community
    members: list[Identity]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signed(self, route: str, body: bytes, signer: Identity | None = None) -> SealedRequest:
        """A member's request, sealed to the served node's key."""
        return seal_request(
            signer or self.members[1],
            self.members[0].public_key,
            "POST",
            PREFIX + route,
            self.community.community_id,
            body,
        )


async def serve(directory: Path, limits: LimitsConfig, **config: object) -> Served:
    members = identities(2)
    community = community_of(members)
    ledger = await Ledger.open(directory, community, members[0], clock_ms=clock_ms)
    server = GossipServer(ledger, members[0], GossipConfig(limits=limits, **config))  # type: ignore[arg-type]
    redeem = RedeemService(ledger, clock_s=lambda: clock_ms() // 1000, gate=server.gate)
    app = web.Application()
    app.add_routes(server.routes())
    app.add_routes(redeem.routes())
    guard = ConnectionGuard(limits)
    runner, port = await start_site(app, "127.0.0.1", 0, guard)
    return Served(ledger, server, guard, runner, port, community, members)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _head_only(port: int, head: bytes) -> tuple[bytes, asyncio.StreamWriter]:
    """Send a request head (announcing a body that never comes); the reply's first bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    async with asyncio.timeout(PATIENCE_S):
        reply = await reader.read(4096)
    return reply, writer


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection (EOF or reset) while we wait."""
    try:
        async with asyncio.timeout(PATIENCE_S):
            await reader.read()  # what is left of a reply, up to the end
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return reader.at_eof()


async def test_a_flood_of_big_unauthenticated_bodies_is_refused_from_the_headers(
    tmp_path: Path,
) -> None:
    limits = LimitsConfig(refusal_burst=3, refusal_rate_per_s=0.01, body_timeout_s=0.2)
    served = await serve(tmp_path, limits)
    head = (
        f"POST {PREFIX}/push HTTP/1.1\r\nHost: node\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {MIB}\r\n\r\n"
    ).encode()
    try:
        replies = []
        for _ in range(10):
            reply, writer = await _head_only(served.port, head)
            replies.append(reply.split(b"\r\n", 1)[0])
            writer.close()
        # The first few spend the address's budget; after it every request is answered
        # at once from its headers, the megabyte it announces never read.
        assert all(status.split()[1] in {b"403", b"408"} for status in replies[:3])
        assert replies[3:] == [b"HTTP/1.1 429 Too Many Requests"] * 7
        assert served.server.counters["refused_address_throttled"] == 7
        assert await served.ledger.count() == 0
    finally:
        await served.runner.cleanup()
        await served.ledger.close()


async def test_a_throttled_address_does_not_cost_other_addresses_their_budget(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    limits = LimitsConfig(refusal_burst=1, refusal_rate_per_s=0.01)
    served = await serve(tmp_path, limits)
    garbage = b"\xff" * 1000
    try:
        for _ in range(3):
            async with session.post(served.url + PREFIX + "/push", data=garbage) as resp:
                await resp.read()
        assert resp.status == 429
        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=other) as neighbour:
            body = encode_frontier({})
            sealed = served.signed("/frontier", body)
            async with neighbour.post(
                served.url + PREFIX + "/frontier", data=sealed.body, headers=sealed.headers
            ) as resp:
                assert resp.status == 200
    finally:
        await served.runner.cleanup()
        await served.ledger.close()


async def test_connections_over_the_caps_are_closed_at_once(tmp_path: Path) -> None:
    limits = LimitsConfig(max_connections=4, max_connections_per_address=2)
    served = await serve(tmp_path, limits)
    opened: list[asyncio.StreamWriter] = []
    try:
        for _ in range(2):
            _reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            opened.append(writer)
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        assert await _closed_by_server(reader)
        writer.close()
        # other addresses still get in, up to the global cap
        for host in ("127.0.0.2", "127.0.0.3"):
            _reader, writer = await asyncio.open_connection(
                "127.0.0.1", served.port, local_addr=(host, 0)
            )
            opened.append(writer)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", served.port, local_addr=("127.0.0.4", 0)
        )
        assert await _closed_by_server(reader)
        writer.close()
        counters = served.guard.counters()
        assert counters["connections_refused_address"] == 1
        assert counters["connections_refused_total"] == 1
        assert counters["connections_open"] == 4
    finally:
        for writer in opened:
            writer.close()
        await served.runner.cleanup()
        await served.ledger.close()


async def test_a_slow_loris_connection_is_closed_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    served = await serve(tmp_path, LimitsConfig(header_timeout_s=0.2))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(f"POST {PREFIX}/pull HTTP/1.1\r\nHost: node\r\n".encode())  # and no more
        await writer.drain()
        assert await _closed_by_server(reader)
        writer.close()
        assert served.guard.counters()["connections_header_timeout"] == 1
        assert served.guard.counters()["connections_open"] == 0
    finally:
        await served.runner.cleanup()
        await served.ledger.close()


async def test_an_idle_or_stalled_keepalive_connection_is_closed(tmp_path: Path) -> None:
    served = await serve(tmp_path, LimitsConfig(header_timeout_s=30, keepalive_timeout_s=0.2))
    try:
        body = encode_frontier({})
        sealed = served.signed("/frontier", body)
        length = len(sealed.body)
        head = f"POST {PREFIX}/frontier HTTP/1.1\r\nHost: node\r\nContent-Length: {length}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in sealed.headers.items())
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(head.encode() + b"\r\n" + sealed.body)
        async with asyncio.timeout(PATIENCE_S):
            status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 200")
        writer.write(f"POST {PREFIX}/pull HTTP/1.1\r\n".encode())  # a second head, stalled
        await writer.drain()
        assert await _closed_by_server(reader)
        writer.close()
    finally:
        await served.runner.cleanup()
        await served.ledger.close()


async def test_redeem_is_rate_limited_per_address_and_in_all(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    limits = LimitsConfig(
        redeem_burst=2, redeem_rate_per_s=0.01, redeem_total_burst=3, redeem_total_rate_per_s=0.01
    )
    served = await serve(tmp_path, limits)
    url = served.url + PREFIX + "/redeem"
    try:
        statuses = []
        for _ in range(3):
            async with session.post(url, data=b"{}") as resp:
                statuses.append((resp.status, (await resp.json())["reason"]))
        assert statuses[:2] == [(400, "bad_request")] * 2
        assert statuses[2] == (429, "redeem_throttled")
        assert resp.headers["Retry-After"] == "100"
        # one more from another address fits the node's total; the next does not
        replies = []
        for host in ("127.0.0.2", "127.0.0.3"):
            connector = aiohttp.TCPConnector(local_addr=(host, 0))
            async with (
                aiohttp.ClientSession(connector=connector) as neighbour,
                neighbour.post(url, data=b"{}") as resp,
            ):
                replies.append((resp.status, (await resp.json())["reason"]))
        assert replies == [(400, "bad_request"), (429, "redeem_throttled")]
    finally:
        await served.runner.cleanup()
        await served.ledger.close()


async def test_a_pull_with_too_many_wants_is_refused_with_a_reason(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    served = await serve(tmp_path, LimitsConfig(), pull_max_wants=100)
    try:
        replies = []
        for count in (100, 101):
            body = encode_wants([(bytes([i % 256]) * 32, 1) for i in range(count)])
            sealed = served.signed("/pull", body)
            async with session.post(
                served.url + PREFIX + "/pull", data=sealed.body, headers=sealed.headers
            ) as resp:
                data = await resp.read()
                if resp.status == 200:  # the reply opens: no frames held for these wants
                    data = decode_reply(sealed.channel.open_reply(data)).payload
                replies.append((resp.status, data))
        assert replies == [(200, b""), (413, b"too_many_wants")]
        assert served.server.counters["refused_too_many_wants"] == 1
    finally:
        await served.runner.cleanup()
        await served.ledger.close()


async def test_an_own_append_completes_while_a_pull_is_being_read(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    served = await serve(tmp_path, LimitsConfig())
    await served.ledger.append(Kind.ORDER, order(1))
    reading, release = threading.Event(), threading.Event()

    def hold_the_read() -> None:  # on the reading thread, inside the pull
        reading.set()
        release.wait(PATIENCE_S)

    served.ledger.reader.probe = hold_the_read
    body = encode_wants([(served.members[0].public_key, 1)])
    sealed = served.signed("/pull", body)
    loop = asyncio.get_running_loop()

    async def pull() -> bytes:
        url = served.url + PREFIX + "/pull"
        async with session.post(url, data=sealed.body, headers=sealed.headers) as r:
            assert r.status == 200
            return decode_reply(sealed.channel.open_reply(await r.read())).payload

    pulling = asyncio.create_task(pull())
    try:
        assert await loop.run_in_executor(None, reading.wait, PATIENCE_S)
        # the pull is held mid-read: the household's own order is stored all the same
        async with asyncio.timeout(PATIENCE_S):
            entry = await served.ledger.append(Kind.ORDER, order(2))
        assert entry.seq == 2
        assert not pulling.done()
    finally:
        release.set()
        frames = await pulling
        await served.runner.cleanup()
        await served.ledger.close()
    assert frames  # the held pull was answered once let go


async def test_the_node_status_counts_what_its_guard_and_gate_refused(tmp_path: Path) -> None:
    dirs, _community = make_community(tmp_path, 1)
    limits = LimitsConfig(header_timeout_s=0.2, redeem_burst=1, redeem_rate_per_s=0.01)
    gossip = dataclasses.replace(FAST_GOSSIP, limits=limits)
    node = await Node.open(
        NodeConfig(data_dir=dirs[0].path, gossip=gossip), clock=ManualClock(T0 * 1000)
    )
    await node.start()
    try:
        port = node.port
        assert port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _closed_by_server(reader)  # sent nothing at all
        writer.close()
        async with aiohttp.ClientSession() as client:
            for _ in range(2):
                url = f"http://127.0.0.1:{port}{PREFIX}/redeem"
                async with client.post(url, data=b"[]") as resp:
                    await resp.read()
        counters = node.status().counters
        assert counters["connections_header_timeout"] == 1
        assert counters["redeem_refused_bad_request"] == 1
        assert counters["redeem_refused_redeem_throttled"] == 1
    finally:
        await node.stop()
