"""A member that leaves, or that a majority removes, trades no more at any node (issue
#14, finding 2): real nodes on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from market.ledger.admission import AdmitVerdict
from market.ledger.identity import load_or_create_identity
from market.ledger.kinds import Kind, OrderBody, RotateBody
from market.ledger.kinds import Side as LedgerSide
from market.ledger.ledger import Origin
from market.ledger.revocation import Cause, rotate_message
from market.model import Side
from market.node.datadir import DataDir
from market.node.errors import InviteUsedError, OrderRejectedError
from market.node.events import SlotCleared
from market.node.finality import SlotState
from market.node.index import OrderStatus
from market.node.invite import create_invite
from market.node.rotation import PENDING_DIR
from market.node.setup import join_with_invite
from tests.market.ledger_helpers import ChainWriter
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    mesh,
    run_slot,
    start_household,
    start_neighbourhood,
    wait_until,
)

SLOTS = (T0 + 1800, T0 + 2700)


async def _held_everywhere(running: list[Household], order_id: str) -> None:
    """Every node holds the order (and so, by chain order, every earlier entry of its
    author)."""
    await wait_until(lambda: all(house.node.held_order(order_id) for house in running))


def _assert_void_everywhere(running: list[Household], gone: Household, buyer: Household) -> None:
    """At every node both slots are final, none of `gone`'s orders is in them, and the
    buyer got only the other seller's energy."""
    gone_id = gone.node.identity.public_key.hex()
    for house in running:
        for slot in SLOTS:
            outcome = house.node.outcome(slot)
            assert outcome is not None and outcome.state is SlotState.FINAL, slot
            assert outcome.result is not None
            book = house.node.order_book(slot)
            theirs = [order for order in book if order.node_id == gone_id]
            assert theirs and {order.status for order in theirs} == {OrderStatus.REVOKED}
            filled = {fill.order_id for fill in outcome.result.fills}
            assert not filled & {order.order_id for order in theirs}
            assert gone.node.identity.public_key not in house.node.index.seals(slot)
            assert outcome.verdict.electorate == len(running) - 1
    for slot in SLOTS:
        buyer_outcome = buyer.node.outcome(slot)
        assert buyer_outcome is not None and buyer_outcome.result is not None
        assert buyer_outcome.result.volume_wh == 600  # the other seller's order only


async def _orders(seller: Household, gone: Household, buyer: Household) -> None:
    """`gone` offers cheap energy for both slots; another seller dearer; one buyer."""
    for slot in SLOTS:
        await gone.node.place_order(Side.SELL, 800, 900, slot)
        await seller.node.place_order(Side.SELL, 600, 1100, slot)
        await buyer.node.place_order(Side.BUY, 1000, 1800, slot)


async def test_a_member_that_left_trades_in_no_later_slot_at_any_node(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    buyer, seller, leaver = running[0], running[1], running[3]
    await _orders(seller, leaver, buyer)
    assert await leaver.node.leave(confirm_timeout_s=5)  # a neighbour holds the revoke
    # a copy of its key (or an older build) goes on writing: stored, and void
    late = OrderBody(SLOTS[0], LedgerSide.SELL, 700, 800).encode()
    entry = await leaver.node.ledger.append(Kind.ORDER, late)
    await _held_everywhere(running, entry.hash.hex())
    for house in running:
        assert house.node.status().members == 3
    assert not leaver.node.status().is_member
    with pytest.raises(OrderRejectedError) as refused:
        await leaver.node.place_order(Side.SELL, 500, 900, SLOTS[1])
    assert refused.value.reason == "revoked"
    assert "left the community" in refused.value.detail
    with pytest.raises(OrderRejectedError, match="left the community"):
        await leaver.node.leave()
    for slot in SLOTS:
        await run_slot(clock, running, slot)
    _assert_void_everywhere(running, leaver, buyer)
    assert leaver.node.status().counters["seals"] == 0


async def test_a_member_removed_by_a_majority_trades_in_no_later_slot_at_any_node(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 5)
    buyer, seller, removed = running[0], running[1], running[4]
    await _orders(seller, removed, buyer)
    target = removed.node.identity.public_key
    # two votes of the four other members: not more than half, it still counts
    for house in running[:2]:
        await house.node.vote_to_remove(target)
    await running[0].node.vote_to_remove(target)  # a repeated vote is not signed again
    await wait_until(
        lambda: all(
            house.node.index.admissions.has_voted(running[1].node.identity.public_key, target)
            for house in running
        )
    )
    for house in running:
        assert house.node.status().members == 5
    assert removed.node.status().is_member
    # the third completes the quorum
    await running[2].node.vote_to_remove(target)
    await wait_until(lambda: all(house.node.status().members == 4 for house in running))
    assert not removed.node.status().is_member
    with pytest.raises(OrderRejectedError) as refused:
        await removed.node.place_order(Side.SELL, 500, 900, SLOTS[1])
    assert refused.value.reason == "revoked"
    assert "removed" in refused.value.detail
    with pytest.raises(OrderRejectedError) as voted:
        await removed.node.vote_to_remove(buyer.node.identity.public_key)
    assert voted.value.reason == "revoked"
    for slot in SLOTS:
        await run_slot(clock, running, slot)
    _assert_void_everywhere(running, removed, buyer)


async def test_a_rotated_key_trades_and_the_old_keys_later_orders_are_void(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, _ = await start_neighbourhood(tmp_path, running, 4)
    buyer, seller, rotating = running[0], running[1], running[3]
    old = rotating.node.identity
    await rotating.node.place_order(Side.SELL, 800, 900, SLOTS[1])  # before: void after
    new_hex = await rotating.node.rotate_key()
    with pytest.raises(OrderRejectedError, match="rotated to a new key"):
        await rotating.node.place_order(Side.SELL, 800, 900, SLOTS[0])
    await rotating.node.stop()
    running.remove(rotating)
    rotated = await start_household(dirs[3], clock)
    running.append(rotated)
    mesh(running)
    assert rotated.node.identity.public_key.hex() == new_hex
    new = rotated.node.identity.public_key
    await wait_until(lambda: all(new in house.node.index.members() for house in running))
    assert all(house.node.status().members == 4 for house in running)
    assert all(old.public_key not in house.node.index.members() for house in running)
    # the old key, copied elsewhere, signs one more order: stored everywhere, void
    frontier = await buyer.node.ledger.frontier()
    copy = ChainWriter(old, buyer.node.community)
    copy.seq, copy.prev = frontier[old.public_key]
    copy.ts = clock.now_ms()
    frame = copy.frame(OrderBody(SLOTS[0], LedgerSide.SELL, 700, 800).encode())
    for house in running:
        await house.node.ledger.ingest(frame, Origin(key=old.public_key))
    for slot in SLOTS:
        await rotated.node.place_order(Side.SELL, 800, 900, slot)
        await seller.node.place_order(Side.SELL, 600, 1100, slot)
        await buyer.node.place_order(Side.BUY, 1000, 1800, slot)
    for slot in SLOTS:
        await run_slot(clock, running, slot)
    for house in running:
        for slot in SLOTS:
            outcome = house.node.outcome(slot)
            assert outcome is not None and outcome.state is SlotState.FINAL
            assert outcome.result is not None and outcome.result.volume_wh == 1000
            statuses = {(order.node_id, order.status) for order in house.node.order_book(slot)}
            assert (new.hex(), OrderStatus.LIVE) in statuses
            assert {s for key, s in statuses if key == old.public_key.hex()} == {
                OrderStatus.REVOKED
            }
    sold = sum(event.sold_wh for event in rotated.of_type(SlotCleared))
    assert sold == 2 * 800


async def test_a_rotation_interrupted_by_a_crash_is_finished_or_discarded_at_the_next_open(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, community = await start_neighbourhood(tmp_path, running, 2)
    house = running[1]
    old = house.node.identity
    # the new key was written, the rotate signed, then the process died
    pending = load_or_create_identity(dirs[1].path / PENDING_DIR)
    proof = pending.sign(rotate_message(community.community_id, old.public_key))
    await house.node.ledger.append(Kind.ROTATE, RotateBody(pending.public_key, proof).encode())
    await house.node.stop()
    running.remove(house)
    reopened = await start_household(dirs[1], clock)
    running.append(reopened)
    assert reopened.node.identity.public_key == pending.public_key
    assert dirs[1].identity().public_key == pending.public_key
    assert not (dirs[1].path / PENDING_DIR).exists()
    # a key written for a rotation that was never signed is dropped
    load_or_create_identity(dirs[0].path / PENDING_DIR)
    first = running[0]
    await first.node.stop()
    running.remove(first)
    again = await start_household(dirs[0], clock)
    running.append(again)
    assert again.node.identity.public_key == first.node.identity.public_key
    assert not (dirs[0].path / PENDING_DIR).exists()
    mesh(running)
    await wait_until(lambda: all(h.node.status().members == 2 for h in running))
    await reopened.node.place_order(Side.SELL, 500, 900, SLOTS[0])


async def test_a_household_that_left_cannot_rejoin_with_the_same_key(
    tmp_path: Path, running: list[Household]
) -> None:
    _clock, dirs, community = await start_neighbourhood(tmp_path, running, 2)
    member, leaver = running
    await leaver.node.leave()
    await wait_until(lambda: member.node.status().members == 1)
    code = create_invite(
        member.node.identity, community, member.node.address or "", now_s=int(time.time())
    ).encode()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InviteUsedError, match="revoked: join with a new key"):
            await join_with_invite(
                dirs[1],
                code,
                session,
                now_ms=time.time_ns() // 1_000_000,
                url=f"http://{member.node.address}",
            )
    assert member.node.status().members == 1


async def test_leaving_while_no_neighbour_answers_is_not_confirmed(
    tmp_path: Path, running: list[Household]
) -> None:
    await start_neighbourhood(tmp_path, running, 2)
    neighbour, leaver = running
    await neighbour.node.stop()
    running.remove(neighbour)
    assert not await leaver.node.leave(confirm_timeout_s=0.3)
    assert not leaver.node.status().is_member  # it left all the same


async def test_a_household_that_lost_its_key_is_carried_on_by_its_new_one(
    tmp_path: Path, running: list[Household]
) -> None:
    # Its disk died with no backup: the household joins again with a new key (an
    # invite of a neighbour), and the neighbours vote to replace the lost key by it.
    clock, _dirs, community = await start_neighbourhood(tmp_path, running, 4)
    lost = running.pop()
    lost_key = lost.node.identity.public_key
    await lost.node.stop()
    inviter = running[0]
    # signed on the market's clock, which the admission entry is stamped with
    now_s = clock.now_ms() // 1000
    code = create_invite(
        inviter.node.identity, community, inviter.node.address or "", now_s=now_s
    ).encode()
    fresh = DataDir(tmp_path / "new-disk")
    async with aiohttp.ClientSession() as session:
        await join_with_invite(
            fresh,
            code,
            session,
            now_ms=time.time_ns() // 1_000_000,
            url=f"http://{inviter.node.address}",
        )
    again = await start_household(fresh, clock)
    running.append(again)
    mesh(running)
    new_key = again.node.identity.public_key
    await wait_until(lambda: all(h.node.index.is_member(new_key) for h in running))
    await advance(clock, running, T0 + 60)  # the votes come after the admission
    with pytest.raises(OrderRejectedError, match="is not a counted member"):
        await running[0].node.vote_to_replace(lost_key, bytes(32))
    # 5 members: more than half of the 4 others is 3 votes
    for voter in running[:3]:
        await voter.node.vote_to_replace(lost_key, new_key)
    await wait_until(lambda: all(not h.node.index.is_member(lost_key) for h in running), limit_s=20)
    for house in running:
        revocation = house.node.index.admissions.revocation(lost_key)
        assert revocation is not None and revocation.cause == Cause.REPLACED
        # the household invites at once, as the genesis member it was (no probation)
        verdict = house.node.index.admissions.inviter_verdict(new_key, clock.now_ms())
        assert verdict is AdmitVerdict.COUNTED
    assert again.node.status().members == 4
