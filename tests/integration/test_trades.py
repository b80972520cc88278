"""The hub's trade bookkeeping (`TradeBook`): what the slot and day entities count.

The `hass` fixture sets the tests' time zone (US/Pacific), where T0 is local midnight.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import T0

from custom_components.p2p_energy.trades import TRADES_KEPT_S, TradeBook, local_day_start
from market.model import Side
from market.node.events import OwnFill, SlotCleared

SLOT_S = 900


def _cleared(slot: int, *fills: OwnFill, price: int | None = 1000) -> SlotCleared:
    volume = sum(fill.energy_wh for fill in fills)
    return SlotCleared(slot=slot, price=price, volume_wh=volume, mechanism="uniform", fills=fills)


def _bought(energy_wh: int, source: str = "api") -> OwnFill:
    return OwnFill(
        order_id=f"b{energy_wh}", side=Side.BUY, energy_wh=energy_wh, price=1000, source=source
    )


@pytest.mark.usefixtures("hass")
def test_a_slot_counts_for_the_day_once_its_delivery_starts() -> None:
    book = TradeBook(T0)
    assert book.today.start == local_day_start(T0)
    book.record(_cleared(T0 + SLOT_S, _bought(500, "ev")))
    assert book.today.values["bought_wh"] == 0  # sealed, not delivered yet
    assert book.current_trade.bought_wh == 0

    assert book.enter_slot(T0 + SLOT_S) is False
    assert book.current_trade.bought_by == {"ev": 500}
    assert book.today.values == {"bought_wh": 500, "sold_wh": 0, "spent": 500_000, "earned": 0}
    book.enter_slot(T0 + 2 * SLOT_S)  # counted once
    assert book.today.values["bought_wh"] == 500


@pytest.mark.usefixtures("hass")
def test_a_result_learnt_late_counts_at_once() -> None:
    book = TradeBook(T0 + SLOT_S)
    book.record(_cleared(T0, _bought(300)))
    assert book.today.values["bought_wh"] == 300


@pytest.mark.usefixtures("hass")
def test_a_late_result_of_yesterday_is_not_counted_today() -> None:
    book = TradeBook(T0 + SLOT_S)
    book.record(_cleared(T0 - SLOT_S, _bought(300)))
    assert book.today.values["bought_wh"] == 0


@pytest.mark.usefixtures("hass")
def test_a_new_day_restarts_the_totals_and_old_trades_are_forgotten() -> None:
    book = TradeBook(T0)
    book.record(_cleared(T0, _bought(400)))
    book.enter_slot(T0)
    assert book.enter_slot(T0 + 86_400) is True
    assert book.today.start == local_day_start(T0) + timedelta(days=1)
    assert book.today.values["bought_wh"] == 0
    assert book.as_dict()["current_slot"] == T0 + 86_400

    book.enter_slot(T0 + TRADES_KEPT_S + SLOT_S)
    # Forgotten: going back to the slot shows nothing traded in it.
    book.current_slot = T0
    assert book.current_trade.bought_wh == 0


@pytest.mark.usefixtures("hass")
def test_the_last_price_is_the_latest_slots() -> None:
    book = TradeBook(T0)
    book.record(_cleared(T0 + 2 * SLOT_S, price=1200))
    book.record(_cleared(T0 + SLOT_S, price=900))  # an older slot, learnt later
    book.record(_cleared(T0 + 3 * SLOT_S, price=None))  # no price: nothing matched
    assert (book.last_price, book.last_cleared_slot) == (1200, T0 + 2 * SLOT_S)


@pytest.mark.usefixtures("hass")
def test_only_todays_totals_are_restored_during_set_up() -> None:
    book = TradeBook(T0)
    assert book.restore("sold_wh", book.today.start, 700) is True
    assert book.restore("sold_wh", book.today.start - timedelta(days=1), 100) is False
    book.accepts_restore = False
    assert book.restore("sold_wh", book.today.start, 50) is False
    assert book.today.values["sold_wh"] == 700
