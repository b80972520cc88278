"""Who placed an order: one record per own order, shown on the book, used to withdraw
an agent's orders and forgotten with the slot."""

from __future__ import annotations

from pathlib import Path

from market.agents import HouseholdLimits, Observation, PvSellerAgent, SlotForecast
from market.model import Side
from market.node import OrderStatus
from market.node.clock import ManualClock
from market.node.events import OrderCancelled
from market.node.orders import OwnOrders, Placement
from tests.market.node_harness import T0, Household, advance, make_community, start_household

SLOT_S = 900
LIMITS = HouseholdLimits(
    max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
)


def _sunny(now_s: int) -> Observation:
    first = now_s - now_s % SLOT_S
    return Observation(
        forecast=tuple(
            SlotForecast(slot=first + i * SLOT_S, pv_wh=1200, load_wh=200) for i in range(4)
        )
    )


async def _seller(tmp_path: Path, running: list[Household]) -> tuple[ManualClock, Household]:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 1)
    house = await start_household(dirs[0], clock)
    running.append(house)
    house.node.set_observation_source(_sunny)
    house.node.add_agent(PvSellerAgent("pv", community.terms, LIMITS))
    await house.node.run_agents_now()
    return clock, house


async def test_book_entries_carry_their_slot_and_who_placed_them(
    tmp_path: Path, running: list[Household]
) -> None:
    _clock, house = await _seller(tmp_path, running)
    slot = T0 + 3 * SLOT_S
    order_id = await house.node.place_order(Side.BUY, 300, 1200, slot)

    orders = house.node.open_orders()
    assert {o.source for o in orders} == {"pv", "api"}
    assert [o.slot for o in orders] == sorted(o.slot for o in orders)
    [mine] = [o for o in orders if o.order_id == order_id]
    assert (mine.slot, mine.source) == (slot, "api")
    assert all(o.slot % SLOT_S == 0 and o.slot > T0 for o in orders)


async def test_withdrawing_an_agents_orders_leaves_the_households_own(
    tmp_path: Path, running: list[Household]
) -> None:
    _clock, house = await _seller(tmp_path, running)
    kept = await house.node.place_order(Side.BUY, 300, 1200, T0 + 3 * SLOT_S)
    offered = [o.order_id for o in house.node.open_orders() if o.source == "pv"]
    assert offered

    house.node.set_agent_enabled("pv", False)
    assert await house.node.withdraw_orders("pv") == len(offered)

    assert [o.order_id for o in house.node.open_orders()] == [kept]
    cancelled = house.of_type(OrderCancelled)
    assert sorted(e.order_id for e in cancelled) == sorted(offered)
    assert {e.source for e in cancelled} == {"pv"}
    for order_id in offered:
        held = house.node.held_order(order_id)
        assert held is not None
        statuses = {o.status for o in house.node.order_book(held.slot) if o.order_id == order_id}
        assert statuses == {OrderStatus.CANCELLED}
    assert await house.node.withdraw_orders("pv") == 0  # nothing left to withdraw


async def test_a_days_old_slot_is_forgotten_with_who_placed_its_orders(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, house = await _seller(tmp_path, running)
    order_id = await house.node.place_order(Side.BUY, 300, 1200, T0 + 3 * SLOT_S)
    assert house.node.held_order(order_id) is not None

    house.node.set_agent_enabled("pv", False)
    await advance(clock, running, T0 + 86_400 + 4 * SLOT_S)

    assert house.node.held_order(order_id) is None
    assert house.node.open_orders() == []
    assert house.node.order_book(T0 + 3 * SLOT_S) == []


def test_own_orders_forget_slots_before_the_horizon() -> None:
    own = OwnOrders()
    own.record(b"a" * 32, Placement(900, "pv", "pv:900"))
    own.record(b"b" * 32, Placement(1800, "api"))
    own.record(b"a" * 32, Placement(1800, "ev", "ev:1"))  # the first record stands

    assert own.source_of(b"a" * 32) == "pv"
    assert own.order_of("pv:900") == b"a" * 32
    assert own.agent_orders(900) == {(b"a" * 32).hex(): "pv"}
    own.prune(1800)
    assert len(own) == 1
    assert own.order_of("pv:900") is None
    assert own.source_of(b"a" * 32) == "api"  # unknown now: not an agent's any more
    assert own.agent_orders(0) == {}
