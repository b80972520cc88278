"""What a node refuses over HTTP: forged, broken, replayed, oversized, foreign, malformed
and flooding requests are refused and counted, nothing is stored, others are served."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from market.gossip.auth import HEADER_SIGNATURE, SealedRequest, seal_request
from market.gossip.config import PATH_PREFIX, GossipConfig
from market.gossip.peers import PeerTable
from market.gossip.sealed import decode_reply
from market.gossip.server import start_site
from market.gossip.service import Gossip
from market.gossip.wire import encode_frontier, encode_wants
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.kinds import Kind
from market.ledger.ledger import Ledger
from tests.market.ledger_helpers import ChainWriter, clock_ms, community_of, identities, order
from tests.market.ledger_nodes import FAST, LOOPBACK_LIMITS, Node, start_node

PREFIX = PATH_PREFIX


class Harness:
    """A served node (gossip not running) and a raw HTTP client to poke it."""

    def __init__(self, node: Node, community: Community, members: list[Identity]) -> None:
        self.node = node
        self.community = community
        self.members = members
        self.session = node.session

    def seal(
        self, route: str, body: bytes, signer: Identity | None = None, **kwargs: int
    ) -> SealedRequest:
        return seal_request(
            signer or self.members[1],
            self.members[0].public_key,
            "POST",
            PREFIX + route,
            self.community.community_id,
            body,
            **kwargs,  # type: ignore[arg-type]
        )

    async def post(
        self,
        route: str,
        body: bytes,
        signer: Identity | None = None,
        sealed: SealedRequest | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Post a sealed request; returns the status and the opened reply's payload."""
        sealed = sealed or self.seal(route, body, signer)
        url = self.node.url + PREFIX + route
        async with self.session.post(
            url, data=sealed.body, headers=headers or sealed.headers
        ) as resp:
            data = await resp.read()
            if resp.status != 200:
                return resp.status, data
        return 200, decode_reply(sealed.channel.open_reply(data)).payload

    async def push(self, body: bytes, signer: Identity | None = None) -> dict[str, object]:
        status, data = await self.post("/push", body, signer)
        assert status == 200
        reply: dict[str, object] = json.loads(data)
        return reply

    @property
    def refused(self) -> dict[str, int]:
        return dict(self.node.gossip.server.counters)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    members = identities(3)
    community = community_of(members)
    config = GossipConfig(
        rate_per_s=50, rate_burst=20, max_request_bytes=64 * 1024, limits=LOOPBACK_LIMITS
    )
    node = await start_node(tmp_path, members[0], community, config, run_gossip=False)
    yield Harness(node, community, members)
    await node.stop()


async def _stored(h: Harness) -> int:
    return await h.node.ledger.count()


async def test_valid_push_is_stored(harness: Harness) -> None:
    reply = await harness.push(ChainWriter(harness.members[1], harness.community).frames(3))
    assert reply["accepted"] == 3 and reply["rejected"] == {}
    assert await _stored(harness) == 3


async def test_forged_entry_signature(harness: Harness) -> None:
    writer = ChainWriter(harness.members[1], harness.community)
    reply = await harness.push(writer.frame(signer=harness.members[2]))
    assert reply["rejected"] == {"signature": 1}
    assert harness.node.ledger.counters()["rejected_signature"] == 1
    assert await _stored(harness) == 0


async def test_broken_chain(harness: Harness) -> None:
    writer = ChainWriter(harness.members[1], harness.community)
    await harness.push(writer.frames(2))
    reply = await harness.push(writer.frame(prev=b"\x01" * 32))
    assert reply["rejected"] == {"prev_hash": 1}
    assert await _stored(harness) == 2


async def test_entry_by_non_member_author(harness: Harness) -> None:
    outsider = identities(1, base=150)[0]
    reply = await harness.push(ChainWriter(outsider, harness.community).frames(2))
    # the second is refused for the gap the first one leaves
    assert reply["rejected"] == {"not_member": 1, "seq": 1} and reply["behind"]
    assert await _stored(harness) == 0


async def test_malformed_bytes(harness: Harness) -> None:
    reply = await harness.push(b"\x00\x92\x00\x00" + b"garbage" * 10)
    assert reply["rejected"] == {"malformed": 1}
    status, _ = await harness.post("/pull", b"\x00\x00\x00\x05abc")
    assert status == 400
    status, _ = await harness.post("/frontier", b"\x01")
    assert status == 400
    assert harness.refused["refused_malformed"] == 2
    assert await _stored(harness) == 0


async def test_oversized_request_body(harness: Harness) -> None:
    writer = ChainWriter(harness.members[1], harness.community)
    status, _ = await harness.post("/push", writer.frames(300))  # ~75 KB > 64 KiB
    assert status == 413
    assert harness.refused["refused_too_large"] == 1
    assert await _stored(harness) == 0


async def test_oversized_batch(tmp_path: Path) -> None:
    members = identities(2)
    community = community_of(members)
    node = await start_node(tmp_path, members[0], community, run_gossip=False)
    h = Harness(node, community, members)
    try:
        reply = await h.push(ChainWriter(members[1], community).frames(1001))
        assert reply["rejected"] == {"batch_size": 1}
        assert await _stored(h) == 0
    finally:
        await node.stop()


async def test_replayed_request(harness: Harness) -> None:
    body = ChainWriter(harness.members[1], harness.community).frames(1)
    sealed = harness.seal("/push", body)
    assert (await harness.post("/push", body, sealed=sealed))[0] == 200
    status, _ = await harness.post("/push", body, sealed=sealed)
    assert status == 403
    assert harness.refused["refused_replay"] == 1


async def test_requests_from_non_members_stale_or_badly_signed(harness: Harness) -> None:
    frontier = encode_frontier({})
    outsider = identities(1, base=150)[0]
    assert (await harness.post("/frontier", frontier, signer=outsider))[0] == 403
    stale = harness.seal("/frontier", frontier, ts_ms=1_000)
    assert (await harness.post("/frontier", frontier, sealed=stale))[0] == 403
    # signed for another length than the body sent
    longer = harness.seal("/frontier", frontier + b"x")
    fitted = harness.seal("/frontier", frontier)
    mismatched = {**fitted.headers, HEADER_SIGNATURE: longer.headers[HEADER_SIGNATURE]}
    assert (await harness.post("/frontier", frontier, sealed=fitted, headers=mismatched))[0] == 403
    other_route = harness.seal("/pull", frontier)
    assert (await harness.post("/frontier", frontier, sealed=other_route))[0] == 403
    unsigned = {k: v for k, v in fitted.headers.items() if k != HEADER_SIGNATURE}
    assert (await harness.post("/frontier", frontier, sealed=fitted, headers=unsigned))[0] == 403
    assert harness.refused == {
        "refused_not_member": 1,
        "refused_auth_stale": 1,
        "refused_auth_signature": 2,
        "refused_auth_malformed": 1,
    }


async def test_pull_is_bounded_and_says_more(harness: Harness) -> None:
    writer = ChainWriter(harness.members[1], harness.community)
    for _ in range(3):
        await harness.push(writer.frames(200))
    wants = encode_wants([(harness.members[1].public_key, 1)])
    sealed = harness.seal("/pull", wants, harness.members[2])
    async with harness.session.post(
        harness.node.url + PREFIX + "/pull", data=sealed.body, headers=sealed.headers
    ) as r:
        reply = decode_reply(sealed.channel.open_reply(await r.read()))
    assert reply.more  # inside the box: a man in the middle cannot clear it
    assert reply.payload.count(harness.members[1].public_key) == 500


async def test_flooding_peer_is_throttled_while_others_are_served(harness: Harness) -> None:
    flooder, honest = harness.members[1], harness.members[2]
    garbage = b"\xff" * 5000

    async def flood() -> list[int]:
        return [
            status
            for status, _ in await asyncio.gather(
                *(harness.post("/push", garbage, signer=flooder) for _ in range(150))
            )
        ]

    async def honest_work() -> int:
        writer = ChainWriter(honest, harness.community)
        accepted = 0
        for _ in range(5):
            reply = await harness.push(writer.frames(4), signer=honest)
            accepted += int(str(reply["accepted"]))
            await asyncio.sleep(0.01)
        return accepted

    statuses, accepted = await asyncio.gather(flood(), honest_work())
    assert statuses.count(429) >= 100
    assert accepted == 20
    assert harness.refused["refused_rate_limited"] == statuses.count(429)
    assert await _stored(harness) == 20


async def _api_root(_request: web.Request) -> web.Response:
    return web.json_response({"message": "API running."})


async def test_routes_mount_into_a_host_application(tmp_path: Path) -> None:
    """The routes run inside another aiohttp app (as they will inside Home Assistant)."""
    members = identities(2)
    community = community_of(members)
    host_ledger = await Ledger.open(tmp_path / "host", community, members[0], clock_ms=clock_ms)
    async with aiohttp.ClientSession() as session:
        host = Gossip(host_ledger, members[0], session, PeerTable(), FAST)
        app = web.Application()
        app.router.add_get("/api/", _api_root)
        app.add_routes(host.server.routes())
        runner, port = await start_site(app, "127.0.0.1", 0)
        await host_ledger.append_many([(Kind.ORDER, order(i + 1)) for i in range(5)])
        other = await start_node(tmp_path / "other", members[1], community, run_gossip=False)
        try:
            peer = other.gossip.peers.add(f"http://127.0.0.1:{port}")
            result = await other.gossip.sync_with(peer)
            assert result.pulled == 5
            async with session.get(f"http://127.0.0.1:{port}/api/") as resp:
                assert resp.status == 200
        finally:
            await other.stop()
            await runner.cleanup()
    await host_ledger.close()


async def test_throttled_client_waits_instead_of_dropping_the_peer(tmp_path: Path) -> None:
    members = identities(2)
    community = community_of(members)
    # one request a second: the frontier and the first pull, back to back, always meet it
    strict = GossipConfig(rate_per_s=1, rate_burst=1)
    server = await start_node(tmp_path / "s", members[0], community, strict, run_gossip=False)
    client = await start_node(tmp_path / "c", members[1], community, run_gossip=False)
    try:
        for _ in range(3):
            await server.ledger.append_many([(Kind.ORDER, order(i + 1)) for i in range(500)])
        peer = client.gossip.peers.add(server.url)
        result = await client.gossip.sync_with(peer)
        assert result.pulled == 1500
        assert peer.alive
        assert server.gossip.server.counters["refused_rate_limited"] >= 1
    finally:
        await client.stop()
        await server.stop()
