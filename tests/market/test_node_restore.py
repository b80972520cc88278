"""A node restarted from an older copy of its data dir (a restored backup) learns its own
newer entries from its peers before it signs: it never reuses a seq. And a member that
did sign a seq twice loses its orders only where its fork lies: a later slot trades."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from market.agents import HouseholdLimits, Observation, PvSellerAgent, SlotForecast
from market.gossip.wire import encode_frontier
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody
from market.ledger.kinds import Side as LedgerSide
from market.model import Side
from market.node import (
    EquivocationSeen,
    ManualClock,
    Node,
    NodeConfig,
    OrderRejectedError,
    OrderStatus,
)
from market.node.catchup import ChainState
from market.node.datadir import DataDir
from market.node.events import ChainStateChanged, NodeEvent, OrderCancelled
from market.node.lockstep import converge
from tests.market.ledger_helpers import ChainWriter
from tests.market.node_harness import (
    FAST_GOSSIP,
    T0,
    Household,
    make_community,
    mesh,
    run_slot,
    start_household,
    wait_until,
)
from tests.market.sealed_peer import serve_sealed_peer

SLOT = T0 + 3600


async def _own_seqs(house: Household) -> list[int]:
    node = house.node
    return [e.seq for e in await node.ledger.entries(author=node.identity.public_key)]


async def _restored(
    tmp_path: Path, running: list[Household]
) -> tuple[ManualClock, DataDir, Household, Household]:
    """Two households; the first one's data dir is copied after two orders, the node
    places two more (its neighbour holds them), stops, and the copy is put back."""
    clock = ManualClock(T0 * 1000)
    (data, other), _community = make_community(tmp_path, 2)
    neighbour = await start_household(other, clock)
    running.append(neighbour)
    assert neighbour.node.address is not None
    peers = (neighbour.node.address,)
    house = await start_household(data, clock, peers=peers)
    for price in (800, 810):
        await house.node.place_order(Side.SELL, 500, price, SLOT)
    await converge([house.node, neighbour.node])
    await house.node.stop()
    backup = tmp_path / "backup"
    shutil.copytree(data.path, backup)
    house = await start_household(data, clock, peers=peers)
    for price in (820, 830):
        await house.node.place_order(Side.SELL, 500, price, SLOT)
    await converge([house.node, neighbour.node])
    assert await _own_seqs(house) == [1, 2, 3, 4]
    await house.node.stop()
    shutil.rmtree(data.path)
    shutil.copytree(backup, data.path)
    return clock, data, neighbour, house


async def test_a_restored_node_catches_up_before_it_signs_and_never_equivocates(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, data, neighbour, _gone = await _restored(tmp_path, running)
    assert neighbour.node.address is not None
    restored = await start_household(data, clock, peers=(neighbour.node.address,))
    running.append(restored)
    assert restored.node.status().chain == ChainState.READY
    # its next order comes after the copy its neighbour kept, not on top of the backup
    order_id = await restored.node.place_order(Side.SELL, 500, 840, SLOT)
    entry = await restored.node.ledger.get(bytes.fromhex(order_id))
    assert entry is not None and entry.seq == 5
    assert await _own_seqs(restored) == [1, 2, 3, 4, 5]
    await converge([restored.node, neighbour.node])
    for house in (restored, neighbour):
        assert await house.node.ledger.equivocations() == []
        book = house.node.order_book(SLOT)
        assert sorted(o.price for o in book) == [800, 810, 820, 830, 840]
        assert {o.status for o in book} == {OrderStatus.LIVE}
    assert restored.node.status().counters["catchup_entries"] == 2
    assert restored.node.status().chain_detail.startswith("learnt 2 entries of its own chain")
    assert [e.state for e in restored.of_type(ChainStateChanged)] == ["ready"]


async def test_a_neighbour_that_missed_the_newer_entries_does_not_confirm_a_stale_head(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    (data, stale_dir, fresh_dir), _community = make_community(tmp_path, 3)
    stale = await start_household(stale_dir, clock)
    fresh = await start_household(fresh_dir, clock)
    running.extend([stale, fresh])
    house = await start_household(data, clock, peers=_addresses(stale, fresh))
    await house.node.place_order(Side.SELL, 500, 800, SLOT)
    await converge([house.node, stale.node, fresh.node])
    await house.node.stop()
    shutil.copytree(data.path, tmp_path / "backup")
    # one neighbour is away while the household signs two more entries
    await stale.node.stop()
    running.remove(stale)
    house = await start_household(data, clock, peers=_addresses(fresh))
    for price in (810, 820):
        await house.node.place_order(Side.SELL, 500, price, SLOT)
    await converge([house.node, fresh.node])
    await house.node.stop()
    shutil.rmtree(data.path)
    shutil.copytree(tmp_path / "backup", data.path)

    stale = await start_household(stale_dir, clock)
    running.append(stale)
    restored = await start_household(data, clock, peers=_addresses(stale, fresh))
    running.append(restored)
    order_id = await restored.node.place_order(Side.SELL, 500, 840, SLOT)
    entry = await restored.node.ledger.get(bytes.fromhex(order_id))
    assert entry is not None and entry.seq == 4
    await converge([restored.node, fresh.node])
    assert await fresh.node.ledger.equivocations() == []


def _addresses(*houses: Household) -> tuple[str, ...]:
    return tuple(house.node.address for house in houses if house.node.address is not None)


async def test_a_restored_node_refuses_to_sign_until_a_neighbour_answers(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, data, neighbour, _gone = await _restored(tmp_path, running)
    address = neighbour.node.address
    assert address is not None and neighbour.node.port is not None
    port = neighbour.node.port
    await neighbour.node.stop()
    running.remove(neighbour)
    restored = await start_household(data, clock, peers=(address,))
    running.append(restored)
    status = restored.node.status()
    assert status.chain == ChainState.CATCHING_UP
    with pytest.raises(OrderRejectedError) as err:
        await restored.node.place_order(Side.SELL, 500, 840, SLOT)
    assert err.value.reason == "catching_up"
    # withdrawing signs too: it is done once the node may sign again
    assert await restored.node.withdraw_orders("api") == 0
    assert await _own_seqs(restored) == [1, 2]  # nothing signed meanwhile

    # the neighbour is back: the restored node learns its entries 3 and 4, then signs 5
    back = await start_household(DataDir(tmp_path / "house1"), clock, port=port)
    running.append(back)
    await wait_until(lambda: restored.node.status().chain == ChainState.READY)
    # the four orders it held then (two of them learnt from the neighbour) are withdrawn
    cancels = await restored.node.ledger.entries(kind=Kind.CANCEL)
    assert [e.seq for e in cancels] == [5, 6, 7, 8]
    assert restored.node.open_orders() == []
    order_id = await restored.node.place_order(Side.SELL, 500, 840, SLOT)
    entry = await restored.node.ledger.get(bytes.fromhex(order_id))
    assert entry is not None and entry.seq == 9
    await converge([restored.node, back.node])
    for house in (restored, back):
        assert await house.node.ledger.equivocations() == []
    assert [e.state for e in restored.of_type(ChainStateChanged)] == ["ready"]
    assert restored.node.status().counters["signing_refused"] == 1


async def test_a_bounded_wait_signs_unconfirmed_when_no_neighbour_answers(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, data, neighbour, _gone = await _restored(tmp_path, running)
    address = neighbour.node.address
    assert address is not None
    await neighbour.node.stop()
    running.remove(neighbour)
    restored = await start_household(data, clock, peers=(address,), catchup_timeout_s=0.3)
    running.append(restored)
    assert restored.node.status().chain == ChainState.CATCHING_UP
    await wait_until(lambda: restored.node.status().chain == ChainState.UNCONFIRMED)
    assert "no neighbour answered" in restored.node.status().chain_detail
    # the host chose availability: it signs on its stale head (seq 3 is reused)
    order_id = await restored.node.place_order(Side.SELL, 500, 840, SLOT)
    entry = await restored.node.ledger.get(bytes.fromhex(order_id))
    assert entry is not None and entry.seq == 3


async def test_a_node_whose_key_already_signed_twice_says_so_and_signs_nothing(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, data, neighbour, _gone = await _restored(tmp_path, running)
    assert neighbour.node.address is not None
    # the restored copy runs alone first (no neighbour known) and reuses seq 3
    (data.path / "peers.json").unlink(missing_ok=True)
    lonely = await start_household(data, clock)
    await lonely.node.place_order(Side.SELL, 500, 900, SLOT)
    assert await _own_seqs(lonely) == [1, 2, 3]
    await lonely.node.stop()
    (data.path / "peers.json").unlink(missing_ok=True)

    forked = await start_household(data, clock, peers=(neighbour.node.address,))
    running.append(forked)
    await wait_until(lambda: forked.node.status().chain == ChainState.FORKED)
    assert "signed twice" in forked.node.status().chain_detail
    with pytest.raises(OrderRejectedError) as err:
        await forked.node.place_order(Side.SELL, 500, 840, SLOT)
    assert err.value.reason == "chain_forked"
    [proof] = await forked.node.ledger.equivocations()
    assert proof.author == forked.node.identity.public_key and proof.seq == 3
    # it signs nothing more, not even its own proof (the neighbour publishes one itself)
    assert await _own_seqs(forked) == [1, 2, 3]
    assert [e.state for e in forked.of_type(ChainStateChanged)] == ["forked"]

    # a restart finds it out again, from the proof it keeps and the neighbour's chain
    await forked.node.stop()
    running.remove(forked)
    again = await start_household(data, clock)
    running.append(again)
    await wait_until(lambda: again.node.status().chain == ChainState.FORKED)
    assert await _own_seqs(again) == [1, 2, 3]


async def test_an_equivocator_trades_again_in_a_later_slot(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 4)
    running.extend([await start_household(data, clock) for data in dirs[:3]])
    mesh(running)
    first, later = T0 + 1800, T0 + 2700
    cheater = ChainWriter(dirs[3].identity(), community)
    cheater.ts = T0 * 1000
    ask = cheater.frame(OrderBody(first, LedgerSide.SELL, 500, 800).encode())
    twin = cheater.frame(OrderBody(first, LedgerSide.SELL, 900, 400).encode(), seq=1, advance=False)
    await running[0].node.ledger.ingest(ask)
    await wait_until(lambda: all(len(h.node.order_book(first)) == 1 for h in running))
    # every node holds the first twin; one is shown the second and proves the fork
    await running[1].node.ledger.ingest(twin)
    await wait_until(lambda: all(h.of_type(EquivocationSeen) for h in running))
    # the cheater's chain goes on from the twin everybody holds, after the conflict
    await running[0].node.ledger.ingest(
        cheater.frame(OrderBody(later, LedgerSide.SELL, 500, 800).encode(), ts=T0 * 1000 + 3000)
    )
    buyer = running[2].node
    for slot in (first, later):
        await buyer.place_order(Side.BUY, 500, 1800, slot)
    await run_slot(clock, running, first)
    await run_slot(clock, running, later)
    for house in running:
        statuses = {o.slot: o.status for o in house.node.order_book(first) if not o.own}
        assert statuses == {first: OrderStatus.EQUIVOCATOR}
        voided, traded = house.node.outcome(first), house.node.outcome(later)
        assert voided is not None and voided.result is not None
        assert voided.result.volume_wh == 0  # its order signed during the conflict is void
        assert traded is not None and traded.result is not None
        assert traded.result.volume_wh == 500  # the later slot trades its later order


def _sunny(now_s: int) -> Observation:
    first = now_s - now_s % 900
    return Observation(
        forecast=tuple(SlotForecast(slot=first + i * 900, pv_wh=800, load_wh=200) for i in range(4))
    )


async def test_a_withdrawal_asked_while_the_first_duties_run_is_not_lost(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    (data, other), community = make_community(tmp_path, 2)
    neighbour = await start_household(other, clock)
    running.append(neighbour)
    assert neighbour.node.address is not None
    peers = (neighbour.node.address,)
    limits = HouseholdLimits(
        max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
    )
    house = await start_household(data, clock, peers=peers)
    house.node.set_observation_source(_sunny)
    house.node.add_agent(PvSellerAgent("pv", community.terms, limits))
    await house.node.run_agents_now()
    own = await house.node.place_order(Side.SELL, 500, 800, SLOT)
    await house.node.stop()

    # at the next start the previous agents' orders are withdrawn first; a host asks
    # to withdraw its own orders meanwhile (as HA does when a switch is turned off)
    node = await Node.open(
        NodeConfig(data_dir=data.path, peers=peers, gossip=FAST_GOSSIP), clock=clock
    )
    asked: list[asyncio.Task[int]] = []

    def on_event(event: NodeEvent) -> None:
        if isinstance(event, OrderCancelled) and not asked:
            asked.append(asyncio.create_task(node.withdraw_orders("api")))

    node.subscribe(on_event)
    await node.start()
    running.append(Household(node))
    await wait_until(lambda: node.status().chain == ChainState.READY)
    assert asked and await asked[0] == 0  # deferred: the node did not sign yet
    [order] = [o for o in node.order_book(SLOT) if o.order_id == own]
    assert order.status is OrderStatus.CANCELLED
    assert node.open_orders() == []


async def test_a_peer_claiming_entries_it_does_not_serve_confirms_nothing(
    tmp_path: Path, running: list[Household], caplog: pytest.LogCaptureFixture
) -> None:
    clock, data, neighbour, _gone = await _restored(tmp_path, running)
    me = DataDir(data.path).identity().public_key

    # a hostile peer: it claims 99 entries of this node's chain and serves none
    async def frontier(_request: bytes) -> tuple[bytes, bool]:
        return encode_frontier({me: (99, bytes(32))}), False

    async def pull(_request: bytes) -> tuple[bytes, bool]:
        return b"", False

    answers = {"/frontier": frontier, "/pull": pull}
    community_id = neighbour.node.community.community_id
    runner, url = await serve_sealed_peer(Identity.generate(), community_id, answers)
    try:
        liar = url.removeprefix("http://")
        (data.path / "peers.json").unlink()  # it knows the liar only, for now
        restored = await start_household(data, clock, peers=(liar,))
        running.append(restored)
        await wait_until(lambda: restored.node.status().counters["catchup_unserved"] >= 3)
        assert restored.node.status().chain == ChainState.CATCHING_UP
        warnings = [r for r in caplog.records if "does not serve" in r.getMessage()]
        assert len(warnings) == 1  # once per peer, not once per round
        # an honest neighbour's answer is what lets it sign
        assert neighbour.node.address is not None
        restored.node.add_peer(neighbour.node.address)
        await wait_until(lambda: restored.node.status().chain == ChainState.READY)
        assert await _own_seqs(restored) == [1, 2, 3, 4]
    finally:
        await runner.cleanup()


async def _read_only_store(node: Node, read_only: bool) -> None:
    """The ledger's database refuses writes (SQLITE_READONLY), as after the disk was
    remounted read-only under the running node."""
    store = node.ledger._store
    flag = "ON" if read_only else "OFF"
    await node.ledger._run(lambda: store._conn.execute(f"PRAGMA query_only = {flag}"))


async def test_catching_up_on_a_read_only_disk_is_a_fault_until_it_can_write(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, data, neighbour, _gone = await _restored(tmp_path, running)
    assert neighbour.node.address is not None
    config = NodeConfig(data_dir=data.path, gossip=FAST_GOSSIP, peers=(neighbour.node.address,))
    node = await Node.open(config, clock=clock)
    restored = Household(node)
    running.append(restored)
    await _read_only_store(node, True)
    await node.start()  # the own entries the neighbour holds cannot be stored
    await wait_until(lambda: node.status().counters["catchup_errors"] >= 1)
    status = node.status()
    assert status.chain == ChainState.CATCHING_UP  # it signs nothing on a stale head
    assert status.fault is not None
    assert "catching up: StorageError" in status.fault

    await _read_only_store(node, False)
    await wait_until(lambda: node.status().chain == ChainState.READY, limit_s=20)
    assert node.status().fault is None
    assert await _own_seqs(restored) == [1, 2, 3, 4]
