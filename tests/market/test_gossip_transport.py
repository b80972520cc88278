"""The encrypted transport between real nodes on loopback: what a LAN observer sees,
what a captured, tampered or forged message achieves, what the headers alone refuse,
and what a node whose clock is off learns from its peers' refusals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from market.gossip.auth import HEADER_EPHEMERAL, now_ms, request_message, seal_request
from market.gossip.client import GossipClient, PeerRequestError
from market.gossip.config import PATH_PREFIX
from market.gossip.peers import Peer
from market.gossip.sealed import (
    BOX_CONTENT_TYPE,
    Channel,
    box_nonce,
    box_public,
    decode_reply,
    encode_reply,
)
from market.gossip.server import start_site
from market.gossip.wire import encode_frontier, encode_wants
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, Side
from market.node.invite import create_invite
from market.node.redeem import RedeemService
from market.node.redeem_client import redeem_invite
from tests.market.ledger_helpers import ChainWriter, community_of, identities, order
from tests.market.ledger_nodes import FAST, Node, start_node
from tests.market.node_harness import make_community, start_household, wait_until
from tests.market.sealed_peer import serve_sealed_peer

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _vectors() -> dict[str, bytes]:
    block = PROTOCOL.read_text().split("<!-- vectors:begin -->")[1].split("<!-- vectors:end")[0]
    pairs = re.findall(r"^(\w+): ([0-9a-f]+)$", block, flags=re.MULTILINE)
    return {name: bytes.fromhex(value) for name, value in pairs}


def test_documented_transport_vectors_match_the_implementation() -> None:
    v = _vectors()
    sender, recipient = Identity(v["seed"]), Identity(v["newcomer_seed"])
    assert box_public(recipient.public_key) == v["request_recipient_box_key"]
    sealed = seal_request(
        sender,
        recipient.public_key,
        "POST",
        "/p2p/v2/pull",
        v["community_id"],
        encode_wants([]),
        ts_ms=1764000123456,
        nonce=bytes(range(16)),
        ephemeral_secret=v["request_ephemeral_secret"],
    )
    ephemeral = bytes.fromhex(sealed.headers[HEADER_EPHEMERAL])
    assert ephemeral == v["request_ephemeral"]
    message = request_message(
        "POST",
        "/p2p/v2/pull",
        v["community_id"],
        sender.public_key,
        recipient.public_key,
        1764000123456,
        bytes(range(16)),
        ephemeral,
        len(sealed.body),
    )
    assert message == v["request_message"]
    assert sender.sign(message) == v["request_signature"]
    assert box_nonce(b"request", bytes(range(16))) == v["request_box_nonce"]
    assert box_nonce(b"reply", bytes(range(16))) == v["reply_box_nonce"]
    assert sealed.body == v["request_body"]
    served = Channel.accept(recipient, ephemeral, bytes(range(16)))
    assert served.open_request(sealed.body) == encode_wants([])
    assert served.seal_reply(encode_reply(b"", now_ms=1764000123500)) == v["reply_body"]
    assert decode_reply(sealed.channel.open_reply(v["reply_body"])).server_ms == 1764000123500


class Recorder:
    """A TCP proxy on loopback that keeps every byte it forwards, both ways."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.seen = bytearray()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.seen += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, list[Identity]]]:
    ids = identities(3)
    community = community_of(ids)
    a = await start_node(tmp_path / "a", ids[0], community, run_gossip=False)
    b = await start_node(tmp_path / "b", ids[1], community, run_gossip=False)
    yield a, b, ids
    await a.stop()
    await b.stop()


async def test_a_passive_observer_sees_no_order_in_sync_traffic(
    pair: tuple[Node, Node, list[Identity]],
) -> None:
    a, b, _ids = pair
    bodies = [order(1234 + i) for i in range(5)]
    entries = await a.ledger.append_many([(Kind.ORDER, body) for body in bodies])
    recorder = Recorder(_port(a.url))
    await recorder.start()
    try:
        # b pulls from a through the proxy (known by address only: hello first), then
        # a pushes one more order to b through a second proxy
        result = await b.gossip.sync_with(b.gossip.peers.add(f"http://127.0.0.1:{recorder.port}"))
        assert result.pulled == 5
        back = Recorder(_port(b.url))
        await back.start()
        late = order(777, side=Side.BUY)
        [pushed] = await a.ledger.append_many([(Kind.ORDER, late)])
        reply = await a.gossip.client.push(Peer(f"http://127.0.0.1:{back.port}"), pushed.raw)
        assert reply.accepted == 1
        await back.stop()
    finally:
        await recorder.stop()
    traffic = bytes(recorder.seen + back.seen)
    assert len(traffic) > sum(len(e.raw) for e in entries)  # it did see the exchange
    for entry in [*entries, pushed]:
        assert entry.body not in traffic
        assert entry.header not in traffic
        assert entry.signature not in traffic
    assert b"X-P2P-More" not in traffic  # the flag travels inside the box


async def test_a_passive_observer_never_sees_an_invite_code(tmp_path: Path) -> None:
    (member,) = identities(1)
    community = community_of([member])
    node = await start_node(tmp_path / "m", member, community, run_gossip=False)
    app = web.Application()
    service = RedeemService(node.ledger, clock_s=lambda: now_ms() // 1000)
    app.add_routes(service.routes())
    runner, port = await start_site(app, "127.0.0.1", 0)
    recorder = Recorder(port)
    await recorder.start()
    try:
        invite = create_invite(member, community, f"127.0.0.1:{port}", now_s=now_ms() // 1000)
        newcomer = Identity.generate()
        async with aiohttp.ClientSession() as session:
            result = await redeem_invite(
                session, invite, newcomer, now_ms=now_ms(), url=f"http://127.0.0.1:{recorder.port}"
            )
        assert result.member == newcomer.public_key and result.by == member.public_key
    finally:
        await recorder.stop()
        await runner.cleanup()
        await node.stop()
    traffic = bytes(recorder.seen)
    code = invite.encode()
    assert code.encode() not in traffic and code.upper().encode() not in traffic
    assert invite.secret not in traffic and invite.secret.hex().encode() not in traffic
    assert community.to_bytes().hex().encode() not in traffic  # the reply is sealed too


async def test_a_captured_request_is_refused_by_another_node_and_when_replayed(
    tmp_path: Path,
) -> None:
    ids = identities(3)
    community = community_of(ids)
    b = await start_node(tmp_path / "b", ids[1], community, run_gossip=False)
    c = await start_node(tmp_path / "c", ids[2], community, run_gossip=False)
    writer = ChainWriter(ids[0], community)
    path = PATH_PREFIX + "/push"
    sealed = seal_request(ids[0], ids[1].public_key, "POST", path, community.community_id, b"")
    captured = seal_request(
        ids[0], ids[1].public_key, "POST", path, community.community_id, writer.frames(2)
    )
    try:
        async with aiohttp.ClientSession() as session:

            async def send(url: str, headers: dict[str, str], body: bytes) -> int:
                async with session.post(url + path, data=body, headers=headers) as resp:
                    return resp.status

            assert await send(b.url, captured.headers, captured.body) == 200
            # the same bytes, to another member's node: not its request to open
            assert await send(c.url, captured.headers, captured.body) == 421
            # and again to its recipient: the nonce is spent
            assert await send(b.url, captured.headers, captured.body) == 403
            assert await send(b.url, sealed.headers, sealed.body) == 200
        assert c.gossip.server.counters["refused_wrong_recipient"] == 1
        assert b.gossip.server.counters["refused_replay"] == 1
        assert await c.ledger.count() == 0 and await b.ledger.count() == 2
    finally:
        await b.stop()
        await c.stop()


async def test_a_tampered_body_is_refused_and_counted(
    pair: tuple[Node, Node, list[Identity]],
) -> None:
    a, _b, ids = pair
    writer = ChainWriter(ids[2], a.ledger.community)
    path = PATH_PREFIX + "/push"
    sealed = seal_request(
        ids[2], ids[0].public_key, "POST", path, a.ledger.community_id, writer.frames(1)
    )
    body = bytearray(sealed.body)
    body[40] ^= 0x01
    async with (
        aiohttp.ClientSession() as session,
        session.post(a.url + path, data=bytes(body), headers=sealed.headers) as resp,
    ):
        assert resp.status == 400
        assert await resp.text() == "auth_box"
    assert a.gossip.server.counters["refused_auth_box"] == 1
    assert await a.ledger.count() == 0


async def test_a_tampered_or_forged_reply_is_refused_by_the_client(
    pair: tuple[Node, Node, list[Identity]],
) -> None:
    a, _b, ids = pair
    community_id = a.ledger.community_id

    async def frontier(_request: bytes) -> tuple[bytes, bool]:
        return encode_frontier({}), False

    def flip(box: bytes) -> bytes:
        return box[:-1] + bytes([box[-1] ^ 0x01])

    # a peer holding the key it announces, whose reply is altered on the way
    runner, url = await serve_sealed_peer(ids[1], community_id, {"/frontier": frontier}, flip)
    # an impostor: it announces a member's key and answers 200 with bytes of its making
    impostor = web.Application()

    async def hello(_request: web.Request) -> web.Response:
        return web.json_response({"key": ids[1].public_key.hex(), "community": community_id.hex()})

    async def forged(_request: web.Request) -> web.Response:
        return web.Response(body=bytes(64), content_type=BOX_CONTENT_TYPE)

    impostor.router.add_get(PATH_PREFIX + "/hello", hello)
    impostor.router.add_post(PATH_PREFIX + "/frontier", forged)
    impostor_runner, port = await start_site(impostor, "127.0.0.1", 0)
    try:
        for target in (url, f"http://127.0.0.1:{port}"):
            with pytest.raises(PeerRequestError, match="does not open"):
                await a.gossip.client.exchange_frontier(Peer(target), {})
    finally:
        await runner.cleanup()
        await impostor_runner.cleanup()
    assert a.gossip.counters()["reply_box"] == 2


async def _raw_request(port: int, head: bytes) -> tuple[int, bytes]:
    """Send request headers only (no body) and read the status line and reason."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        rest = await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
    return int(status_line.split()[1]), rest


async def test_headers_alone_refuse_a_request_whose_body_never_comes(
    pair: tuple[Node, Node, list[Identity]],
) -> None:
    """A non-member announcing 1 MiB, a request for another node and a stale one are
    answered at once: the server reads no body byte (none is ever sent)."""
    a, _b, ids = pair
    path = PATH_PREFIX + "/push"
    outsider = Identity.generate()
    community_id = a.ledger.community_id
    size = 1 << 20
    cases = {
        "not_member": seal_request(outsider, ids[0].public_key, "POST", path, community_id, b""),
        "wrong_recipient": seal_request(ids[2], ids[1].public_key, "POST", path, community_id, b""),
        "auth_stale": seal_request(
            ids[2], ids[0].public_key, "POST", path, community_id, b"", ts_ms=now_ms() - 120_000
        ),
    }
    for reason, sealed in cases.items():
        # signed over the announced length, as a real client's would be
        headers = dict(sealed.headers)
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        status, rest = await _raw_request(_port(a.url), head.encode())
        assert status == (421 if reason == "wrong_recipient" else 403)
        assert reason.encode() in rest
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _rest = await _raw_request(_port(a.url), head.encode())
    assert status == 411
    counters = a.gossip.server.counters
    assert counters["refused_not_member"] == 1
    assert counters["refused_wrong_recipient"] == 1
    assert counters["refused_auth_stale"] == 1
    assert counters["refused_length_required"] == 1


async def test_an_old_protocol_request_gets_a_clear_refusal(
    pair: tuple[Node, Node, list[Identity]],
) -> None:
    a, _b, _ids = pair
    async with (
        aiohttp.ClientSession() as session,
        session.post(a.url + "/p2p/v1/pull", data=encode_wants([])) as resp,
    ):
        assert resp.status == 426
        assert "/p2p/v2" in await resp.text()


async def test_a_client_whose_clock_is_off_learns_it_from_the_refusals(
    pair: tuple[Node, Node, list[Identity]],
) -> None:
    a, _b, ids = pair
    async with aiohttp.ClientSession() as session:
        skewed = GossipClient(
            session,
            ids[2],
            a.ledger.community_id,
            FAST,
            max_reply_bytes=1 << 20,
            is_member=lambda _key: True,
            clock_ms=lambda: now_ms() + 90_000,
        )
        peer = Peer(a.url)
        with pytest.raises(PeerRequestError, match="auth_stale"):
            await skewed.exchange_frontier(peer, {})
        refusing = skewed.clocks.refusing()
        assert list(refusing) == [a.url]
        assert -95_000 < refusing[a.url] < -85_000  # the peer is 90 s behind us
        # a client with the right clock is answered, with the server's clock in the box
        fine = Peer(a.url)
        await a.gossip.client.exchange_frontier(fine, {})
        sample = a.gossip.client.clocks.get(a.url)
        assert sample is not None and sample.authenticated and abs(sample.offset_ms) < 5_000


async def test_a_node_refused_for_its_clock_says_so_in_its_status(tmp_path: Path) -> None:
    dirs, community = make_community(tmp_path, 2)
    from market.node.clock import ManualClock

    clock = ManualClock(now_ms())
    house = await start_household(dirs[0], clock)
    peer_key = dirs[1].identity()

    async def frontier(_request: bytes) -> tuple[bytes, bool]:
        return encode_frontier({}), False

    answers = {"/frontier": frontier, "/pull": frontier}
    runner, url = await serve_sealed_peer(
        peer_key, community.community_id, answers, clock_offset_ms=90_000
    )
    try:
        assert house.node.status().clock_refusals == 0
        house.node.add_peer(url)
        await wait_until(lambda: house.node.status().clock_refusals == 1)
        skew = house.node.status().clock_skew_ms
        assert skew is not None and 85_000 < skew < 95_000  # the neighbour is 90 s ahead
    finally:
        await runner.cleanup()
        await house.node.stop()
