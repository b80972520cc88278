"""Placing orders across a community's nodes and checking that each one arrived intact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from market.terms import CommunityTerms
from tests.faults.nodes import NodeProcess, SimClock

# Placed this many market seconds (3 s of wall time at 10x) before their gate at least,
# so that on a healthy link every node holds them when it seals: a push that missed a
# peer is made good by its next pull, every 2 s.
GATE_MARGIN_S = 30


@dataclass(frozen=True, slots=True)
class Placed:
    """An order a node acknowledged, as it was asked for."""

    author: str
    side: str
    energy_wh: int
    price: int
    slot: int


def next_slot(terms: CommunityTerms, clock: SimClock) -> int:
    """The next slot whose gate is open well ahead."""
    return terms.first_open_slot(int(clock.now_s()) + GATE_MARGIN_S)


async def place_round(nodes: Sequence[NodeProcess], slot: int) -> dict[str, Placed]:
    """One order per node for `slot`: even nodes sell, odd ones buy, at prices that
    cross. Returns the acknowledged orders by id."""
    placed: dict[str, Placed] = {}
    for index, node in enumerate(nodes):
        side, price = ("sell", 600) if index % 2 == 0 else ("buy", 1500)
        order = Placed(node.name, side, 300 + 10 * index, price, slot)
        order_id = await node.client.place_order(side, order.energy_wh, price, slot)
        placed[order_id] = order
    return placed


async def check_held_intact(nodes: Sequence[NodeProcess], placed: dict[str, Placed]) -> None:
    """Every node holds every acknowledged order, with the fields it was placed with."""
    for node in nodes:
        for order_id, order in placed.items():
            held = await node.client.held(order_id)
            got = (held["side"], held["energy_wh"], held["price"], held["slot"])
            assert got == (order.side, order.energy_wh, order.price, order.slot), (
                f"{node.name} holds {order_id} as {got}, {order.author} placed {order}"
            )
