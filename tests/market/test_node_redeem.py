"""Redeeming invites at a real member node over HTTP on 127.0.0.1, with real ledgers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from market.gossip.auth import RequestVerifier, seal_request
from market.gossip.auth import now_ms as wall_ms
from market.gossip.config import PATH_PREFIX
from market.gossip.sealed import BOX_CONTENT_TYPE, decode_reply, encode_reply
from market.gossip.server import open_sealed, start_site
from market.ledger.community import Community
from market.ledger.errors import NotAMemberError, RejectReason
from market.ledger.identity import Identity
from market.ledger.kinds import AdmitBody, Kind
from market.ledger.ledger import Ledger
from market.node.errors import (
    InviteExpiredError,
    InviteForgedError,
    InviteMalformedError,
    InviteUsedError,
    InviteWrongCommunityError,
    RedeemFailedError,
    RedeemRefusedError,
)
from market.node.invite import Invite, create_invite
from market.node.redeem import RedeemService, redeem_message
from market.node.redeem_client import redeem_invite
from tests.market.ledger_helpers import ChainWriter, clock_ms, community_of, identities, order


def now_s() -> int:
    return int(time.time())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class MemberNode:
    """A member's ledger serving the redeem route."""

    identity: Identity
    ledger: Ledger
    service: RedeemService
    runner: web.AppRunner
    address: str

    def invite(self, *, ttl_s: int = 3600, issued_s: int | None = None) -> Invite:
        issued = now_s() if issued_s is None else issued_s
        return create_invite(
            self.identity, self.ledger.community, self.address, now_s=issued, ttl_s=ttl_s
        )

    async def admits(self) -> list[tuple[bytes, bytes]]:
        """(admitted key, invite tag) of every admit held."""
        bodies = [AdmitBody.decode(e.body) for e in await self.ledger.entries(kind=Kind.ADMIT)]
        return [(body.member, body.invite_tag) for body in bodies]


async def serve(directory: Path, identity: Identity, community: Community) -> MemberNode:
    ledger = await Ledger.open(
        directory, community, identity, synchronous="NORMAL", clock_ms=clock_ms
    )
    service = RedeemService(ledger, clock_s=now_s)
    app = web.Application()
    app.add_routes(service.routes())
    runner, port = await start_site(app, "127.0.0.1", 0)
    return MemberNode(identity, ledger, service, runner, f"127.0.0.1:{port}")


MEMBER, OTHER_MEMBER = identities(2)
COMMUNITY = community_of([MEMBER, OTHER_MEMBER])


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[MemberNode]:
    member = await serve(tmp_path / "member", MEMBER, COMMUNITY)
    yield member
    await member.runner.cleanup()
    await member.ledger.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def newcomers(count: int) -> list[Identity]:
    return identities(count, base=100)


async def sealed_post(
    session: aiohttp.ClientSession, node: MemberNode, plaintext: bytes, sender: Identity
) -> tuple[int, dict[str, str]]:
    """Post `plaintext` sealed to the member's key; the status and the answer's JSON
    (opened when sealed)."""
    path = PATH_PREFIX + "/redeem"
    sealed = seal_request(
        sender, node.identity.public_key, "POST", path, COMMUNITY.community_id, plaintext
    )
    url = f"http://{node.address}{path}"
    async with session.post(url, data=sealed.body, headers=sealed.headers) as response:
        data = await response.read()
        if response.content_type == BOX_CONTENT_TYPE:
            data = decode_reply(sealed.channel.open_reply(data)).payload
        return response.status, json.loads(data)


async def test_redeeming_an_invite_admits_the_newcomer(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    invite = Invite.decode(node.invite().encode())  # as the newcomer would paste it
    result = await redeem_invite(session, invite, newcomer, now_ms=now_ms())
    assert result.member == newcomer.public_key
    assert result.by == MEMBER.public_key
    assert result.community == COMMUNITY
    assert node.ledger.is_member(newcomer.public_key)
    assert await node.admits() == [(newcomer.public_key, invite.tag)]
    assert node.service.counters() == {"admitted": 1}


async def test_the_newcomer_writes_only_after_redeeming(
    tmp_path: Path, node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    early = ChainWriter(newcomer, COMMUNITY).frame(order())
    result = await node.ledger.ingest(early)
    assert result.rejected == {RejectReason.NOT_MEMBER: 1}

    invite = node.invite()
    admitted = await redeem_invite(session, invite, newcomer, now_ms=now_ms())
    own = await Ledger.open(tmp_path / "newcomer", admitted.community, newcomer, clock_ms=clock_ms)
    try:
        with pytest.raises(NotAMemberError):
            await own.append(Kind.ORDER, order())
        # The newcomer's node learns of its admission like any entry: by sync.
        frames, _more = await node.ledger.read_ranges([(MEMBER.public_key, 1)], 100, 10**6)
        assert len((await own.ingest(b"".join(frames))).accepted) == 1
        entry = await own.append(Kind.ORDER, order(energy_wh=700))
        result = await node.ledger.ingest(entry.raw)
    finally:
        await own.close()
    assert [e.hash for e in result.accepted] == [entry.hash] and not result.rejected


async def test_an_invite_admits_only_once(node: MemberNode, session: aiohttp.ClientSession) -> None:
    first, second = newcomers(2)
    invite = node.invite()
    await redeem_invite(session, invite, first, now_ms=now_ms())
    with pytest.raises(InviteUsedError) as caught:
        await redeem_invite(session, invite, second, now_ms=now_ms())
    assert "already been used" in caught.value.detail
    assert not node.ledger.is_member(second.public_key)
    assert node.service.counters() == {"admitted": 1, "refused_used": 1}


async def test_a_retry_after_a_lost_reply_succeeds_again(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    invite = node.invite()
    await redeem_invite(session, invite, newcomer, now_ms=now_ms())
    again = await redeem_invite(session, invite, newcomer, now_ms=now_ms())
    assert again.member == newcomer.public_key
    assert len(await node.admits()) == 1
    assert node.service.counters() == {"admitted": 1, "readmitted": 1}


async def test_a_member_cannot_burn_a_fresh_invite(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    await redeem_invite(session, node.invite(), newcomer, now_ms=now_ms())
    fresh = node.invite()
    for already_member in (newcomer, OTHER_MEMBER):
        with pytest.raises(InviteUsedError, match="already a member"):
            await redeem_invite(session, fresh, already_member, now_ms=now_ms())
    assert len(await node.admits()) == 1


async def test_concurrent_redemptions_of_one_invite_admit_exactly_one(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    racers = newcomers(6)
    invite = node.invite()
    outcomes = await asyncio.gather(
        *(redeem_invite(session, invite, racer, now_ms=now_ms()) for racer in racers),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, InviteUsedError) for o in outcomes if o not in winners)
    assert await node.admits() == [(winners[0].member, invite.tag)]
    assert [r for r in racers if node.ledger.is_member(r.public_key)] == [
        r for r in racers if r.public_key == winners[0].member
    ]


async def test_an_expired_invite_is_refused(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    invite = node.invite(ttl_s=60, issued_s=now_s() - 120)
    with pytest.raises(InviteExpiredError):
        await redeem_invite(session, invite, newcomer, now_ms=now_ms())
    assert not node.ledger.is_member(newcomer.public_key)
    assert node.service.counters() == {"refused_expired": 1}


async def test_forged_invites_are_refused(node: MemberNode, session: aiohttp.ClientSession) -> None:
    (newcomer,) = newcomers(1)
    outsider = identities(1, base=50)[0]
    by_outsider = create_invite(outsider, COMMUNITY, node.address, now_s=now_s())
    genuine = node.invite()
    longer = create_invite(MEMBER, COMMUNITY, node.address, now_s=now_s(), ttl_s=10**8)
    stretched = Invite(
        community=genuine.community,
        address=genuine.address,
        secret=genuine.secret,
        expires_s=longer.expires_s,
        inviter=genuine.inviter,
        signature=genuine.signature,
    )
    # an invite of another key is sealed to that key: this node cannot even open it
    with pytest.raises(InviteForgedError, match="inviter's node"):
        await redeem_invite(session, by_outsider, newcomer, now_ms=now_ms())
    with pytest.raises(InviteForgedError):
        await redeem_invite(session, stretched, newcomer, now_ms=now_ms())
    assert await node.admits() == []
    assert node.service.counters() == {"refused_forged": 1, "refused_wrong_recipient": 1}


async def test_an_invite_to_another_community_is_refused(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    elsewhere = community_of([MEMBER], name="rue-des-roses")
    invite = create_invite(MEMBER, elsewhere, node.address, now_s=now_s())
    with pytest.raises(InviteWrongCommunityError, match="another community"):
        await redeem_invite(session, invite, newcomer, now_ms=now_ms())


async def test_a_stale_or_foreign_proof_of_key_is_refused(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    invite = node.invite()
    with pytest.raises(RedeemRefusedError, match="clock"):
        await redeem_invite(session, invite, newcomer, now_ms=now_ms() - 6 * 60 * 1000)
    message = redeem_message(COMMUNITY.community_id, invite.tag, newcomer.public_key, now_ms())
    payload = {
        "invite": invite.encode(),
        "member": newcomer.public_key.hex(),
        "ts": now_ms(),
        "signature": OTHER_MEMBER.sign(message).hex(),  # not the newcomer's key
    }
    status, body = await sealed_post(session, node, json.dumps(payload).encode(), newcomer)
    assert (status, body["reason"]) == (400, "bad_request")
    # a request for another key than the one that sealed it
    status, body = await sealed_post(session, node, json.dumps(payload).encode(), OTHER_MEMBER)
    assert (status, body["reason"]) == (400, "bad_request")
    assert not node.ledger.is_member(newcomer.public_key)
    # the invite was not spent by the refused attempts
    assert (await redeem_invite(session, invite, newcomer, now_ms=now_ms())).member


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (b"not json", 400, "bad_request"),
        (b"[1, 2]", 400, "bad_request"),
        (b'{"invite": 5}', 400, "bad_request"),
        (b'{"invite": "p2pe1-AAAA", "member": "00", "ts": 1, "signature": "00"}', 400, None),
        (b"x" * (16 * 1024 - 15), 413, "bad_request"),  # sealed: 16 KiB + 1
        # nested deeper than the parser's recursion: was a 500 (RecursionError escaped)
        (b"[" * (16 * 1024 - 16), 400, "bad_request"),
    ],
    ids=["garbage", "array", "types", "short-fields", "too-large", "nested"],
)
async def test_bad_requests_get_a_status_and_a_reason(
    node: MemberNode,
    session: aiohttp.ClientSession,
    payload: bytes,
    status: int,
    reason: str | None,
) -> None:
    (newcomer,) = newcomers(1)
    got, body = await sealed_post(session, node, payload, newcomer)
    assert got == status
    assert body["reason"] == (reason or "bad_request") and body["detail"]
    assert await node.ledger.count() == 0


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [("hello", 400, "malformed"), ("p2pe1-AAAAAAAA", 400, "mistyped")],
)
async def test_bad_codes_are_refused_with_their_reason(
    node: MemberNode, session: aiohttp.ClientSession, code: str, status: int, reason: str
) -> None:
    (newcomer,) = newcomers(1)
    payload = {
        "invite": code,
        "member": newcomer.public_key.hex(),
        "ts": now_ms(),
        "signature": "00" * 64,
    }
    got, body = await sealed_post(session, node, json.dumps(payload).encode(), newcomer)
    assert (got, body["reason"]) == (status, reason)
    assert node.service.counters() == {f"refused_{reason}": 1}


async def test_statuses_follow_the_reason(node: MemberNode, session: aiohttp.ClientSession) -> None:
    first, second = newcomers(2)
    invite = node.invite()
    await redeem_invite(session, invite, first, now_ms=now_ms())
    ts = now_ms()
    message = redeem_message(COMMUNITY.community_id, invite.tag, second.public_key, ts)
    payload = {
        "invite": invite.encode(),
        "member": second.public_key.hex(),
        "ts": ts,
        "signature": second.sign(message).hex(),
    }
    got, body = await sealed_post(session, node, json.dumps(payload).encode(), second)
    assert (got, body["reason"]) == (409, "used")


async def test_a_node_that_is_not_a_member_cannot_admit(
    tmp_path: Path, session: aiohttp.ClientSession, node: MemberNode
) -> None:
    stranger, newcomer = newcomers(2)
    lonely = await serve(tmp_path / "stranger", stranger, COMMUNITY)
    try:
        with pytest.raises(RedeemFailedError, match="not a member"):
            await redeem_invite(session, lonely.invite(), newcomer, now_ms=now_ms())
        assert lonely.service.counters() == {"refused_unavailable": 1}
    finally:
        await lonely.runner.cleanup()
        await lonely.ledger.close()
    # only the inviter's node opens the request: another member's says so
    other = await serve(tmp_path / "other", OTHER_MEMBER, COMMUNITY)
    try:
        with pytest.raises(InviteForgedError, match="inviter's node"):
            await redeem_invite(
                session, node.invite(), newcomer, now_ms=now_ms(), url=f"http://{other.address}/"
            )
        assert other.service.counters() == {"refused_wrong_recipient": 1}
    finally:
        await other.runner.cleanup()
        await other.ledger.close()


async def test_an_unreachable_node_is_reported_as_such(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    (newcomer,) = newcomers(1)
    invite = node.invite()
    await node.runner.cleanup()
    with pytest.raises(RedeemFailedError) as caught:
        await redeem_invite(session, invite, newcomer, now_ms=now_ms(), timeout_s=2.0)
    assert caught.value.reason == "unreachable"


async def test_an_unknown_answer_is_unreachable_not_a_crash(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    async def teapot(_request: web.Request) -> web.Response:
        return web.json_response({"reason": "teapot", "detail": "short and stout"}, status=418)

    async def liar(_request: web.Request) -> web.Response:
        # a sealed-looking answer of its own making: it does not open
        return web.Response(body=bytes(80), content_type=BOX_CONTENT_TYPE)

    async def plain_used(_request: web.Request) -> web.Response:
        # a plaintext refusal about the invite: anyone could send it, so it is not believed
        return web.json_response({"reason": "used", "detail": "taken"}, status=409)

    app = web.Application()
    app.router.add_post(f"/teapot{PATH_PREFIX}/redeem", teapot)
    app.router.add_post(f"/liar{PATH_PREFIX}/redeem", liar)
    app.router.add_post(f"/used{PATH_PREFIX}/redeem", plain_used)
    runner, port = await start_site(app, "127.0.0.1", 0)
    (newcomer,) = newcomers(1)
    try:
        for path, detail in (
            ("teapot", "short and stout"),
            ("liar", "does not open"),
            ("used", r"answered 409 \(used\)"),
        ):
            with pytest.raises(RedeemFailedError, match=detail):
                await redeem_invite(
                    session,
                    node.invite(),
                    newcomer,
                    now_ms=now_ms(),
                    url=f"http://127.0.0.1:{port}/{path}",
                )
    finally:
        await runner.cleanup()


async def test_refusal_for_a_malformed_invite_reaches_the_client_as_such(
    node: MemberNode, session: aiohttp.ClientSession
) -> None:
    # A node running a later invite version would answer "malformed" for our code: the
    # client raises the matching error, not a generic failure.
    verifier = RequestVerifier(MEMBER, COMMUNITY.community_id, None)

    async def newer(request: web.Request) -> web.Response:
        verified, _plaintext = await open_sealed(request, verifier, 1 << 16)
        refusal = json.dumps({"reason": "malformed", "detail": "version 1"}).encode()
        sealed = verified.channel.seal_reply(encode_reply(refusal, now_ms=wall_ms()))
        return web.Response(body=sealed, status=400, content_type=BOX_CONTENT_TYPE)

    app = web.Application()
    app.router.add_post(PATH_PREFIX + "/redeem", newer)
    runner, port = await start_site(app, "127.0.0.1", 0)
    try:
        with pytest.raises(InviteMalformedError, match="version 1"):
            await redeem_invite(
                session,
                node.invite(),
                newcomers(1)[0],
                now_ms=now_ms(),
                url=f"http://127.0.0.1:{port}",
            )
    finally:
        await runner.cleanup()
