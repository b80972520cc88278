"""When a node judges a slot (issue #14, findings 5 and 7): never before its own seal time,
whatever a peer's clock says; and again whenever an entry the verdict depends on arrives,
in whatever order the entries come."""

from __future__ import annotations

from pathlib import Path

from market.ledger.codec import Entry
from market.ledger.kinds import Kind, OrderBody, SealBody
from market.ledger.kinds import Side as LedgerSide
from market.model import Side
from market.node import ManualClock, SlotCleared, SlotDisputed
from tests.market.ledger_helpers import ChainWriter
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    make_community,
    mesh,
    run_slot,
    start_household,
)


def _frames(entries: list[Entry]) -> bytes:
    return b"".join(entry.raw for entry in entries)


async def _run_apart(clock: ManualClock, sides: list[list[Household]], slot: int) -> None:
    """`run_slot` for nodes that cannot reach each other: each side steps on its own."""
    terms = sides[0][0].node.terms
    for t in (terms.seal_time(slot), slot):
        for side in sides:
            await advance(clock, side, t)


async def test_a_peer_clock_running_ahead_does_not_decide_a_slot_early(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 3)
    running.extend([await start_household(data, clock) for data in dirs[:2]])
    mesh(running)
    terms = community.terms
    slot = T0 + 900
    # The third member's clock is 4 minutes ahead: it seals at its seal time, which is
    # 4 minutes before ours; the seal is within the ledger's 5 minutes of tolerance.
    fast = ChainWriter(dirs[2].identity(), community)
    fast_seal_ms = terms.seal_time(slot) * 1000
    seal = fast.frame(SealBody(slot, bytes(32), bytes(32)).encode(), Kind.SEAL, ts=fast_seal_ms)
    await advance(clock, running, terms.seal_time(slot) - 240)
    await running[0].node.ledger.ingest(seal)
    await advance(clock, running, terms.seal_time(slot) - 1)
    for house in running:
        assert house.node.outcome(slot) is None
        assert not house.of_type(SlotDisputed)
    await advance(clock, running, terms.seal_time(slot))
    await advance(clock, running, slot)  # from now on the slot is decided, as before
    for house in running:
        assert house.node.outcome(slot) is not None


async def test_future_seals_are_refused_and_decide_nothing(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 2)
    running.append(await start_household(dirs[0], clock))
    liar = ChainWriter(dirs[1].identity(), community)
    liar.ts = T0 * 1000
    batch = b"".join(
        liar.frame(SealBody(T0 + 900 * k, bytes(32), bytes(32)).encode(), Kind.SEAL)
        for k in range(1, 501)
    )
    result = await running[0].node.ledger.ingest(batch)
    assert result.accepted == []
    assert sum(result.rejected.values()) == 500
    assert result.rejected["off_terms"] >= 1
    await advance(clock, running, T0 + 60)
    assert running[0].node.outcomes() == []
    assert not running[0].of_type(SlotDisputed)


async def test_an_isolated_node_reaches_the_quorums_verdict_whatever_the_arrival_order(
    tmp_path: Path, running: list[Household]
) -> None:
    # Finding 7: after a partition the isolated node got the majority's seals before
    # the orders they sealed, and judging re-ran only on seals: it stayed disputed.
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 6)
    terms = community.terms
    majority = [await start_household(data, clock) for data in dirs[:4]]
    alone = await start_household(dirs[4], clock)
    running.extend([*majority, alone])
    mesh(majority)  # the isolated node has no peers, and nobody knows its address
    sides = [majority, [alone]]
    # Past the slots whose activity window holds the community's creation (its genesis
    # members count at once there), the electorate is who wrote in the window.
    for slot in (T0 + 900, T0 + 1800, T0 + 2700):
        await _run_apart(clock, sides, slot)
    slot = T0 + 3600
    # Before the partition: the isolated node holds the majority's activity.
    await alone.node.ledger.ingest(_frames(await majority[0].node.ledger.entries()))
    # The orders come from a member without a node of its own, after the activity
    # window, before the gate; only the majority gets them.
    trader = ChainWriter(dirs[5].identity(), community)
    trader.ts = (terms.gate_closure(slot) - 200) * 1000
    orders = trader.frame(OrderBody(slot, LedgerSide.SELL, 700, 500).encode()) + trader.frame(
        OrderBody(slot, LedgerSide.BUY, 700, 1500).encode()
    )
    for side in sides:
        await advance(clock, side, terms.gate_closure(slot) - 100)
    assert len((await majority[0].node.ledger.ingest(orders)).accepted) == 2
    await _run_apart(clock, sides, slot)
    final = majority[0].node.outcome(slot)
    assert final is not None and final.result is not None and final.result.volume_wh == 700
    assert [e.slot for e in alone.of_type(SlotDisputed)].count(slot) == 1

    # The partition heals: the sealers' chains arrive first, the orders' author's last.
    held = await majority[0].node.ledger.entries()
    sealers = [e for e in held if e.author != trader.identity.public_key]
    await alone.node.ledger.ingest(_frames(sealers))
    assert alone.node.outcome(slot).state == "disputed"  # type: ignore[union-attr]
    await alone.node.ledger.ingest(_frames([e for e in held if e not in sealers]))
    outcome = alone.node.outcome(slot)
    assert outcome is not None and outcome.state == "final"
    assert outcome.result == final.result
    [cleared] = [e for e in alone.of_type(SlotCleared) if e.slot == slot]
    assert cleared.late and cleared.volume_wh == 700


async def test_a_node_restarted_after_the_seals_judges_the_slot_at_start(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 3)
    running.extend([await start_household(data, clock) for data in dirs])
    mesh(running)
    terms = community.terms
    for slot in (T0 + 900, T0 + 1800, T0 + 2700):
        await run_slot(clock, running, slot)
    slot = T0 + 3600
    await running[0].node.place_order(Side.SELL, 500, 600, slot)
    await running[1].node.place_order(Side.BUY, 500, 1500, slot)
    await advance(clock, running, terms.seal_time(slot))
    assert running[2].node.outcome(slot) is not None  # final before delivery
    gone = running.pop()
    await gone.node.stop()
    again = await start_household(dirs[2], clock)
    running.append(again)
    # Restarted before the slot starts, it knows the verdict at once from its ledger.
    outcome = again.node.outcome(slot)
    assert outcome is not None and outcome.result is not None
    assert outcome.result.volume_wh == 500
