"""Settled slots for the statement tests, built by the engine's own public settlement
from fills and meter readings (not written by hand), and strategies for hypothesis."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from market.model import Fill, Side
from market.settlement.public import (
    MeterReading,
    public_settlement,
    readings_root,
    settlement_hash,
)
from market.settlement.records import OwnSlot, SettledSlot, SettleState
from market.tariff import GridPrices

SLOT_S = 900
HOUSEHOLDS = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
CEILING, FLOOR = 1952, 400
REFERENCE = GridPrices(CEILING, FLOOR)


@dataclass(frozen=True)
class Trade:
    """One fill of a household: it bought or sold `wh` at `price` ticks/kWh."""

    household: str
    side: Side
    wh: int
    price: int


def settled(
    slot: int,
    readings: dict[str, tuple[int, int]],
    trades: Sequence[Trade] = (),
    state: SettleState | None = None,
) -> SettledSlot:
    """The slot as a node stores it: FINAL when there are trades, NO_TRADES otherwise
    (unless `state` says), with its readings root and result hash."""
    fills = [Fill(f"o{i}", t.side, t.wh, t.price) for i, t in enumerate(trades)]
    author = {f"o{i}": t.household for i, t in enumerate(trades)}
    meters = {h: MeterReading(imp, exp) for h, (imp, exp) in readings.items()}
    rows = public_settlement(fills, author, meters)
    if state is None:
        state = SettleState.FINAL if trades else SettleState.NO_TRADES
    if state is SettleState.NO_TRADES:
        return SettledSlot(slot, state, rows)
    entry_hashes = [hashlib.sha256(f"{slot}{h}".encode()).digest() for h in sorted(readings)]
    return SettledSlot(slot, state, rows, readings_root(entry_hashes), settlement_hash(slot, rows))


@dataclass(frozen=True)
class Scenario:
    """Settled slots and one household's own prices (and PV) for them."""

    slots: list[SettledSlot]
    own: dict[int, OwnSlot]


@st.composite
def scenarios(
    draw: st.DrawFn,
    starts: Sequence[int],
    *,
    within_bounds: bool = False,
    max_slots: int = 12,
    max_wh: int = 5000,
) -> Scenario:
    """Slots at some of `starts`, each with readings and trades of up to four
    households, and HOUSEHOLDS[0]'s own prices and PV. `within_bounds`: every fill of
    that household lies between its own feed-in and retail prices of the slot."""
    chosen = draw(st.lists(st.sampled_from(starts), min_size=1, max_size=max_slots, unique=True))
    slots: list[SettledSlot] = []
    own: dict[int, OwnSlot] = {}
    for slot in sorted(chosen):
        sell = draw(st.integers(0, 1000))
        buy = draw(st.integers(sell, 7000))
        pv = draw(st.none() | st.integers(0, max_wh))
        if draw(st.booleans()) or within_bounds:
            own[slot] = OwnSlot(slot, GridPrices(buy, sell), pv)
        prices = own[slot].prices if slot in own else REFERENCE
        present = draw(st.lists(st.sampled_from(HOUSEHOLDS), min_size=1, unique=True))
        readings = {
            h: (draw(st.integers(0, max_wh)), draw(st.integers(0, max_wh)))
            for h in present
            if draw(st.integers(0, 9)) > 0  # now and then a reading is missing
        }
        trades: list[Trade] = []
        for household in HOUSEHOLDS:
            for side in Side:
                if draw(st.booleans()):
                    low, high = (prices.sell, prices.buy) if within_bounds else (0, 3000)
                    price = draw(st.integers(low, high))
                    trades.append(Trade(household, side, draw(st.integers(1, max_wh)), price))
        state = None
        if trades:
            state = draw(st.sampled_from([SettleState.FINAL, SettleState.DISPUTED]))
        slots.append(settled(slot, readings, trades, state))
    return Scenario(slots, own)
