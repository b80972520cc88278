"""One bad member cannot grow the community at will or stop its market (issue #14):
real nodes on loopback, a hostile member writing its chain by hand."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import aiohttp
import pytest

from market.ledger.admission import ADMISSIONS_PER_PERIOD, admit_body
from market.ledger.codec import ZERO_HASH
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody
from market.ledger.kinds import Side as LedgerSide
from market.ledger.ledger import Origin
from market.model import Side
from market.node.clock import ManualClock
from market.node.datadir import DataDir
from market.node.errors import InviteForgedError, InviteQuotaError, OrderRejectedError
from market.node.events import SlotDisputed
from market.node.finality import SlotState
from market.node.invite import Invite, create_invite
from market.node.setup import join_with_invite
from tests.market.ledger_helpers import ChainWriter, admit
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    make_community,
    mesh,
    run_slot,
    wait_until,
)
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


async def test_a_member_over_its_invite_quota_adds_no_more_members(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, hostile, sybils = await _community_with_a_hostile_member(tmp_path, running)
    community = running[0].node.community
    expires_s = T0 + 86_400
    # twelve invites it signed itself, each redeemed for one of its keys
    for number, sybil in enumerate(sybils):
        body = admit(
            community,
            hostile.identity,
            sybil.public_key,
            secret=bytes([number]) * 16,
            expires_s=expires_s,
        )
        await _push(running, hostile, body.encode())
    # a key it got in invites more of its keys at once: its invites are on probation
    more = [Identity(os.urandom(32)) for _ in range(3)]
    for number, key in enumerate(more):
        body = admit(
            community,
            sybils[0],
            key.public_key,
            secret=bytes([100 + number]) * 16,
            expires_s=expires_s,
        )
        await _push(running, hostile, body.encode())
    for house in running:
        # every admit is stored (each carries a valid invite) ...
        assert house.node.ledger.is_member(sybils[-1].public_key)
        assert house.node.ledger.is_member(more[-1].public_key)
        # ... but the market counts the four honest, the hostile one and its quota
        assert house.node.status().members == 5 + ADMISSIONS_PER_PERIOD
        index = house.node.index
        counted = [s for s in sybils + more if s.public_key in index.members()]
        assert counted == sybils[:ADMISSIONS_PER_PERIOD]  # the first ones, by timestamp
    assert clock.now_ms() == T0 * 1000  # all within one period


async def _admit_leaked(house: Household, invite: Invite, newcomer: DataDir) -> None:
    """`house`, a member that got hold of someone else's code, writes the newcomer's
    admit itself. The redeem route is sealed to the inviter's key, so a member's node
    redeems only its own invites: a second admission of one code comes from a member
    writing it by hand, as here, and the counting rule settles it like any race."""
    body = admit_body(
        invite.community.community_id,
        newcomer.identity().public_key,
        secret=invite.secret,
        inviter=invite.inviter,
        expires_s=invite.expires_s,
        address=invite.address,
        inviter_signature=invite.signature,
    )
    await house.node.ledger.append(Kind.ADMIT, body.encode())
    newcomer.save_community(invite.community)
    newcomer.save_peers([f"http://{house.node.address}"])


def _partition(groups: list[list[Household]]) -> None:
    """Only nodes of the same group know each other."""
    for group in groups:
        for house in group:
            for peer in house.node.peers.all():
                house.node.peers.remove(peer.url)
        mesh(group)


async def test_one_invite_redeemed_at_two_nodes_at_once_admits_one_key_everywhere(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 4)
    running.extend([await start(data, clock) for data in dirs])
    inviter, other = running[0], running[1]
    invite = create_invite(inviter.node.identity, community, inviter.node.address or "", now_s=T0)
    newcomers = [DataDir(tmp_path / f"newcomer{i}") for i in range(2)]
    for data in newcomers:
        data.save_community(community)
    # the two members cannot gossip before both have admitted: the same instant
    _partition([[inviter], [other], running[2:]])
    async with aiohttp.ClientSession() as session:
        now_ms = time.time_ns() // 1_000_000
        _invite, result = await join_with_invite(
            newcomers[0], invite.encode(), session, now_ms=now_ms
        )
    assert result.by == inviter.node.identity.public_key
    await _admit_leaked(other, invite, newcomers[1])
    joined = [await start(data, clock) for data in newcomers]
    running.extend(joined)
    mesh(running)
    keys = [house.node.identity.public_key for house in joined]
    # Every node's market index holds both admits (the ledger's write-membership moves
    # first, on the store's thread, and the index follows when the loop is told).
    await wait_until(
        lambda: all(house.node.index.admissions.admits_of(key) for house in running for key in keys)
    )
    winners = {tuple(key in house.node.index.members() for key in keys) for house in running}
    assert winners in ({(True, False)}, {(False, True)})  # one key, the same everywhere
    (winner_flags,) = winners
    winner, loser = joined if winner_flags[0] else joined[::-1]
    for house in running:
        assert house.node.status().members == 5
    assert winner.node.status().is_member and not loser.node.status().is_member
    slot = T0 + 1800
    with pytest.raises(OrderRejectedError) as refused:
        await loser.node.place_order(Side.SELL, 500, 900, slot)
    assert refused.value.reason == "not_admitted"
    assert "redeemed for another key" in refused.value.detail
    await winner.node.place_order(Side.SELL, 500, 900, slot)


async def test_admitted_keys_that_never_seal_do_not_stop_the_market(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, hostile, sybils = await _community_with_a_hostile_member(tmp_path, running)
    community = running[0].node.community
    counted = sybils[:ADMISSIONS_PER_PERIOD]  # what the quota lets it add
    for number, sybil in enumerate(counted):
        body = admit(
            community,
            hostile.identity,
            sybil.public_key,
            secret=bytes([number]) * 16,
            expires_s=T0 + 86_400,
        )
        await _push(running, hostile, body.encode())
    writers = [ChainWriter(sybil, community) for sybil in counted]
    for slot in SLOTS:
        # the keys stay busy (an order each, every slot) but never seal
        for writer in writers:
            writer.ts = clock.now_ms()
            frame = writer.frame(OrderBody(slot, LedgerSide.SELL, 100, 900).encode())
            for house in running:
                await house.node.ledger.ingest(frame, Origin(key=writer.identity.public_key))
        await run_slot(clock, running, slot)
    _assert_market_runs(running, members=5 + ADMISSIONS_PER_PERIOD)
    electorate = running[0].node.outcome(SLOTS[-1])
    assert electorate is not None and electorate.verdict.electorate == 4  # the sealers


async def test_a_node_refuses_to_redeem_an_invite_whose_admission_would_not_count(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 1)
    member = await start(dirs[0], clock)
    running.append(member)
    newcomers = [DataDir(tmp_path / f"newcomer{i}") for i in range(ADMISSIONS_PER_PERIOD + 1)]

    def invite_of(house: Household) -> str:
        identity, address = house.node.identity, house.node.address or ""
        return create_invite(identity, community, address, now_s=T0).encode()

    async with aiohttp.ClientSession() as session:

        async def join(data: DataDir, code: str) -> None:
            await join_with_invite(data, code, session, now_ms=time.time_ns() // 1_000_000)

        for data in newcomers[:-1]:
            await join(data, invite_of(member))
        with pytest.raises(InviteQuotaError) as refused:
            await join(newcomers[-1], invite_of(member))
        assert "admitted 3 households" in refused.value.detail
        # a newcomer's own invites wait for its probation, at its node as at any other
        first = await start(newcomers[0], clock)
        running.append(first)
        mesh(running)
        await wait_until(lambda: first.node.status().is_member)
        await advance(clock, running, T0 + 60)
        with pytest.raises(InviteQuotaError, match="joined less than 30 days ago"):
            await join_with_invite(
                newcomers[-1], invite_of(first), session, now_ms=time.time_ns() // 1_000_000
            )
        # only the inviter's node can open the request: another member's refuses it
        with pytest.raises(InviteForgedError, match="inviter's node"):
            await join_with_invite(
                newcomers[-1],
                invite_of(first),
                session,
                now_ms=time.time_ns() // 1_000_000,
                url=f"http://{member.node.address}",
            )
    assert member.node.status().members == 1 + ADMISSIONS_PER_PERIOD
    assert member.node.redeem.counters() == {
        "admitted": 3,
        "refused_quota": 1,
        "refused_wrong_recipient": 1,
    }
    assert first.node.redeem.counters() == {"refused_quota": 1}


async def test_a_key_whose_admission_lost_can_join_with_another_invite(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 2)
    running.extend([await start(data, clock) for data in dirs])
    inviter, other = running
    code = create_invite(inviter.node.identity, community, inviter.node.address or "", now_s=T0)
    newcomers = [DataDir(tmp_path / f"newcomer{i}") for i in range(2)]
    _partition([[inviter], [other]])
    async with aiohttp.ClientSession() as session:
        now_ms = time.time_ns() // 1_000_000
        await join_with_invite(newcomers[0], code.encode(), session, now_ms=now_ms)
        await _admit_leaked(other, code, newcomers[1])
        mesh(running)
        joined = [await start(data, clock) for data in newcomers]
        running.extend(joined)
        mesh(running)
        keys = [house.node.identity.public_key for house in joined]
        # both admits held by every node's market index (the ledger's own membership is
        # updated first, on the store's thread), so every node has decided which counts
        await wait_until(
            lambda: all(h.node.index.admissions.admits_of(k) for h in running for k in keys)
        )
        assert all(house.node.status().members == 3 for house in running)
        (loser,) = [house for house in joined if not house.node.status().is_member]
        fresh = create_invite(
            inviter.node.identity, community, inviter.node.address or "", now_s=T0
        ).encode()
        now_ms = time.time_ns() // 1_000_000
        await join_with_invite(newcomers[joined.index(loser)], fresh, session, now_ms=now_ms)
    await wait_until(lambda: all(h.node.status().members == 4 for h in running))
    assert loser.node.status().is_member
    await loser.node.place_order(Side.BUY, 500, 1500, T0 + 1800)
