"""A household whose settlement is disputed or whose readings are missing sees it (issue
#16, point 6): the settlement status entity, and a repair issue from 4 such slots in
the last 24 h, gone once they are no longer that recent."""

from __future__ import annotations

import pytest
from conftest import T0, NodeDirs
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers import translation
from pytest_homeassistant_custom_component.common import MockConfigEntry
from settlement_support import Neighbourhood, Trade

from custom_components.p2p_energy.const import DOMAIN
from custom_components.p2p_energy.issues import MarketIssues
from custom_components.p2p_energy.settlements import SettlementHealth, SettlementStatus
from market.node.clock import ManualClock
from market.settlement import HouseholdSettlement
from market.settlement.records import SettledSlot, SettleState
from tests.market.node_harness import Household

H1 = T0 + 3600
STATUS = "sensor.maison_settlement"


@pytest.fixture
def street(
    hass: HomeAssistant, market_clock: ManualClock, home: MockConfigEntry, neighbour: Household
) -> Neighbourhood:
    return Neighbourhood.of(hass, market_clock, home.runtime_data.market, neighbour)


def _issues(hass: HomeAssistant, key: str) -> list[ir.IssueEntry]:
    return [
        issue
        for (domain, _id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN and issue.translation_key == key
    ]


async def _text(hass: HomeAssistant, issue: ir.IssueEntry, language: str) -> str:
    strings = await translation.async_get_translations(hass, language, "issues", [DOMAIN])
    prefix = f"component.{DOMAIN}.issues.{issue.translation_key}"
    placeholders = issue.translation_placeholders or {}
    return " / ".join(
        strings[f"{prefix}.{part}"].format(**placeholders) for part in ("title", "description")
    )


def _state(hass: HomeAssistant) -> tuple[str, dict[str, object]]:
    state = hass.states.get(STATUS)
    assert state is not None
    return state.state, dict(state.attributes)


async def test_traded_slots_without_a_reading_raise_the_repair_until_a_day_passes(
    hass: HomeAssistant, street: Neighbourhood, home: MockConfigEntry
) -> None:
    assert _state(hass)[0] == "ok"  # nothing settled yet, nothing wrong
    # the household's meter is not heard in three traded slots, then in a fourth
    await street.deliver([Trade(H1 + i * 3600, 400, read=False) for i in range(3)])
    state, attributes = _state(hass)
    assert state == "missing_readings"
    assert attributes["unmeasured_slots"] == 3
    assert attributes["disputed_slots"] == 0
    assert attributes["options"] == ["ok", "missing_readings", "disputed"]
    assert not _issues(hass, "readings_missing")  # fewer than 4: no repair yet

    await street.deliver([Trade(H1 + 3 * 3600, 400, read=False), Trade(H1 + 4 * 3600, 200)])
    assert _state(hass)[1]["unmeasured_slots"] == 4
    [issue] = _issues(hass, "readings_missing")
    assert issue.translation_placeholders == {"node": "Maison", "slots": "4", "hours": "24"}
    assert issue.severity is ir.IssueSeverity.WARNING and not issue.is_fixable
    text = await _text(hass, issue, "en")
    assert text.startswith("Meter readings of Maison are missing / In the last 24 h, the node")
    assert "traded in 4 slots" in text
    assert "Relevés de compteur manquants pour Maison" in await _text(hass, issue, "fr")

    # a day after the first of them, three remain: the repair goes, the state stays
    await street.step(H1 + 86_400 + 1)
    assert _state(hass)[1]["unmeasured_slots"] == 3
    assert not _issues(hass, "readings_missing")
    assert _state(hass)[0] == "missing_readings"
    await street.step(H1 + 4 * 3600 + 86_400)
    assert _state(hass)[0] == "ok"


def _row(household: str, *, measured: bool = True) -> HouseholdSettlement:
    return HouseholdSettlement(
        household=household,
        measured=measured,
        import_wh=100 if measured else 0,
        export_wh=0,
        local_bought_wh=100 if measured else 0,
        local_sold_wh=0,
        grid_import_wh=0,
        grid_export_wh=0,
        local_paid=0,
        local_received=0,
        grid_paid=0,
        grid_received=0,
        baseline_cost=0,
    )


def test_the_status_counts_only_the_households_own_problem_slots() -> None:
    me, other = "aa" * 32, "bb" * 32
    slots = [
        SettledSlot(H1, SettleState.FINAL, (_row(me), _row(other, measured=False))),
        SettledSlot(H1 + 900, SettleState.DISPUTED, (_row(me),)),
        SettledSlot(H1 + 1800, SettleState.DISPUTED, (_row(other),)),  # not its slot
        SettledSlot(H1 + 2700, SettleState.FINAL, (_row(me, measured=False),)),
        SettledSlot(H1 + 3600, SettleState.NO_TRADES, (_row(other),)),
    ]
    health = SettlementHealth.of(slots, me)
    assert health == SettlementHealth(disputed=(H1 + 900,), unmeasured=(H1 + 2700,))
    # its own meter first: that it can fix
    assert health.status is SettlementStatus.MISSING_READINGS
    assert SettlementHealth.of(slots[:3], me).status is SettlementStatus.DISPUTED
    assert SettlementHealth.of(slots, other).status is SettlementStatus.MISSING_READINGS
    assert SettlementHealth.of(slots[4:], other).status is SettlementStatus.OK


async def test_disputed_slots_raise_their_own_repair(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    issues = MarketIssues(hass, entry, skew_limit_s=30)
    issues.check_settlement(disputed=4, unmeasured=3, threshold=4, hours=24)
    [issue] = _issues(hass, "settlement_disputed")
    assert not _issues(hass, "readings_missing")
    text = await _text(hass, issue, "en")
    assert text.startswith("The settlement of Maison is disputed / In the last 24 h, 4 slots")
    assert "Le règlement de Maison est contesté" in await _text(hass, issue, "fr")
    issues.check_settlement(disputed=3, unmeasured=4, threshold=4, hours=24)
    assert not _issues(hass, "settlement_disputed")
    assert _issues(hass, "readings_missing")
    issues.clear_transient()  # the entry unloads: raised again once back if it holds
    assert not _issues(hass, "readings_missing")
