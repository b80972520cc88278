"""A node restarted from an older copy of its data dir (a restored backup) learns its own
newer entries from its peers before it signs: it never reuses a seq."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from market.model import Side
from market.node import ManualClock, OrderRejectedError, OrderStatus
from market.node.catchup import ChainState
from market.node.datadir import DataDir
from market.node.events import ChainStateChanged
from market.node.lockstep import converge
from tests.market.node_harness import (
    T0,
    Household,
    make_community,
    start_household,
    wait_until,
)

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
    assert [e.state for e in restored.of_type(ChainStateChanged)] == ["ready"]


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
    assert await _own_seqs(restored) == [1, 2]  # nothing signed meanwhile

    # the neighbour is back: the restored node learns its entries 3 and 4, then signs 5
    back = await start_household(DataDir(tmp_path / "house1"), clock, port=port)
    running.append(back)
    await wait_until(lambda: restored.node.status().chain == ChainState.READY)
    order_id = await restored.node.place_order(Side.SELL, 500, 840, SLOT)
    entry = await restored.node.ledger.get(bytes.fromhex(order_id))
    assert entry is not None and entry.seq == 5
    await converge([restored.node, back.node])
    for house in (restored, back):
        assert await house.node.ledger.equivocations() == []
    assert [e.state for e in restored.of_type(ChainStateChanged)] == ["ready"]
    assert restored.node.status().counters["signing_refused"] == 1


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
