"""Today's and this month's statements in Home Assistant (issue #16, point 6): the
household's and the community's entities show the statement `p2p_energy.get_statement`
returns for the same period, figure for figure, refreshed as slots are settled."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import T0
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry
from settlement_support import PRICE, Neighbourhood, Trade

from custom_components.p2p_energy.const import DOMAIN
from custom_components.p2p_energy.market_hub import MarketHub
from market.node.clock import ManualClock
from market.settlement.store import SettlementStoreError
from market.units import to_money
from tests.market.node_harness import Household

H1 = T0 + 3600
DAY = "2027-01-15"  # the tests' T0 is this day's local midnight (US/Pacific)
NODE = "sensor.maison"
COMMUNITY = "sensor.rue_des_lilas"


@pytest.fixture
def street(
    hass: HomeAssistant, market_clock: ManualClock, home: MockConfigEntry, neighbour: Household
) -> Neighbourhood:
    return Neighbourhood.of(hass, market_clock, home.runtime_data.market, neighbour)


async def _statement(hass: HomeAssistant, entry: MockConfigEntry, **fields: str) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        "get_statement",
        {"config_entry_id": entry.entry_id, **fields},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["currency"] == "EUR"
    statement = response["statement"]
    assert isinstance(statement, dict)
    return statement


def _value(hass: HomeAssistant, entity_id: str) -> float | None:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return None if state.state == "unknown" else float(state.state)


def _percent(ratio: dict[str, Any]) -> float | None:
    points = ratio["basis_points"]
    return None if points is None else points / 100


async def _assert_entities_show(
    hass: HomeAssistant, entry: MockConfigEntry, period: str, suffix: str
) -> dict[str, Any]:
    """The entities of `period` ("day", "month") show its statements' figures."""
    mine = await _statement(hass, entry, period=period, date=DAY)
    ours = await _statement(hass, entry, period=period, date=DAY, scope="community")
    totals = mine["totals"]
    assert {
        "bought": _value(hass, f"{NODE}_energy_bought_locally_{suffix}"),
        "sold": _value(hass, f"{NODE}_energy_sold_locally_{suffix}"),
        "paid": _value(hass, f"{NODE}_paid_locally_{suffix}"),
        "earned": _value(hass, f"{NODE}_earned_locally_{suffix}"),
        "savings": _value(hass, f"{NODE}_savings_{suffix}"),
        "usage": _value(hass, f"{NODE}_local_energy_usage_rate_{suffix}"),
        "certificates": _value(hass, f"{NODE}_green_certificates_{suffix}"),
        "self_sufficiency": _value(hass, f"{COMMUNITY}_self_sufficiency_{suffix}"),
        "local": _value(hass, f"{COMMUNITY}_energy_traded_locally_{suffix}"),
        "community_savings": _value(hass, f"{COMMUNITY}_savings_{suffix}"),
    } == {
        "bought": totals["local_bought_wh"] / 1000,
        "sold": totals["local_sold_wh"] / 1000,
        "paid": pytest.approx(to_money(totals["local_paid"]), abs=0.005),
        "earned": pytest.approx(to_money(totals["local_received"]), abs=0.005),
        "savings": pytest.approx(to_money(totals["savings"]), abs=0.005),
        "usage": _percent(mine["usage_rate"]),
        "certificates": mine["certificates"]["earned"],
        "self_sufficiency": _percent(ours["self_sufficiency"]),
        "local": ours["local_wh"] / 1000,
        "community_savings": pytest.approx(to_money(ours["savings_at_reference"]), abs=0.005),
    }
    return mine


async def test_the_entities_show_the_statement_of_the_same_day(
    hass: HomeAssistant, street: Neighbourhood, home: MockConfigEntry
) -> None:
    hub: MarketHub = home.runtime_data.market
    # nothing settled yet: empty statements, an unknown usage rate
    assert _value(hass, f"{NODE}_energy_bought_locally_today") == 0
    assert _value(hass, f"{NODE}_local_energy_usage_rate_today") is None
    await _assert_entities_show(hass, home, "day", "today")

    # bought in two slots (drawing more from the grid in the first), sold in a third
    await street.deliver(
        [Trade(H1, 500, grid_wh=300), Trade(H1 + 900, 200), Trade(H1 + 7200, -400)]
    )
    mine = await _assert_entities_show(hass, home, "day", "today")
    assert mine["period"]["label"] == DAY
    totals = mine["totals"]
    assert (totals["local_bought_wh"], totals["local_sold_wh"]) == (700, 400)
    assert (totals["local_paid"], totals["local_received"]) == (700 * PRICE, 400 * PRICE)
    assert totals["import_wh"] == 1000 and totals["export_wh"] == 400
    # 700 of the 1000 Wh consumed came from the neighbour (no PV sensor here)
    assert mine["usage_rate"] == {"numerator_wh": 700, "denominator_wh": 1000, "basis_points": 7000}
    assert _value(hass, f"{NODE}_local_energy_usage_rate_today") == 70.0
    assert mine["slots"]["final"] == 3
    # grid-only, the household pays its import at the reference price (no tariff set)
    assert totals["savings"] > 0
    state = hass.states.get(f"{NODE}_energy_bought_locally_today")
    assert state is not None and state.attributes["last_reset"] == "2027-01-15T08:00:00+00:00"

    # the month holds the day, and its entities the month's statement
    month = await _assert_entities_show(hass, home, "month", "this_month")
    assert month["period"]["label"] == "2027-01"
    assert month["totals"] == totals
    assert hub.settlements.statements is not None


async def test_get_statement_refuses_a_future_day_and_an_unknown_node(
    hass: HomeAssistant, home: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await _statement(hass, home, date="2027-01-16")
    assert err.value.translation_key == "statement_future"
    assert err.value.translation_placeholders == {"date": "2027-01-16"}
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_statement",
            {"config_entry_id": "nope"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "entry_not_found"
    # an earlier day has a statement, empty
    empty = await _statement(hass, home, date="2027-01-14", scope="community")
    assert empty["slots"] == {"final": 0, "no_trades": 0, "disputed": 0}

    # a store that cannot be read (a disk error) is said so
    async def refused(start: int, end: int) -> Any:
        raise SettlementStoreError("disk I/O error")

    home.runtime_data.market.node.settled_slots = refused  # type: ignore[method-assign]
    with pytest.raises(HomeAssistantError) as failed:
        await _statement(hass, home, period="month")
    assert failed.value.translation_key == "statement_unavailable"
    assert failed.value.translation_placeholders == {"error": "disk I/O error"}
