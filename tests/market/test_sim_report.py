"""The report on a hand-made two-household scenario, figures worked out by hand."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.settlement import SlotPosition, settle_slot
from market.sim.report import HouseholdUsage, InvalidReportInputError, Report, ev_local_wh
from market.sim.units import days_text, kwh_text, money_text, permille_text, price_text, to_cents

RETAIL, FEED_IN = 1952, 400
SLOT = 1_750_000_500 - 1_750_000_500 % 900


def scenario() -> Report:
    """Slot 1 clears at 1000 ticks: a buys 600 Wh of b's 800 Wh surplus.

    Slot 2 is disputed: no trade, both import from the grid.
    """
    report = Report(slot_s=900, labels={"a": "flat", "b": "house with PV"}, retail=RETAIL)
    first = settle_slot(
        [
            SlotPosition(household="a", import_wh=1000, export_wh=0, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_buy_wh=600, buy_amount=600_000),
            SlotPosition(household="b", import_wh=0, export_wh=800, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_sell_wh=600, sell_amount=600_000),
        ]
    )  # fmt: skip
    report.add_slot(
        SLOT,
        settlements=first,
        usage={
            "a": HouseholdUsage(consumption_wh=1000, pv_wh=0, ev_wh=300),
            "b": HouseholdUsage(consumption_wh=200, pv_wh=1000),
        },
        price=1000,
        ledger_bytes=1000,
    )
    second = settle_slot(
        [
            SlotPosition(household="a", import_wh=500, export_wh=0, buy_price=RETAIL,
                         sell_price=FEED_IN),
            SlotPosition(household="b", import_wh=200, export_wh=0, buy_price=RETAIL,
                         sell_price=FEED_IN),
        ]
    )  # fmt: skip
    report.add_slot(
        SLOT + 900,
        settlements=second,
        usage={
            "a": HouseholdUsage(consumption_wh=500, pv_wh=0),
            "b": HouseholdUsage(consumption_wh=300, pv_wh=100),
        },
        disputed=True,
        ledger_bytes=800,
    )
    return report


def test_community_figures_match_the_hand_computation() -> None:
    s = scenario().summary()
    assert (s.households, s.slots) == (2, 2)
    assert (s.consumption_wh, s.pv_wh) == (2000, 1100)
    assert (s.import_wh, s.export_wh) == (1700, 800)
    assert (s.local_traded_wh, s.grid_import_wh, s.grid_export_wh) == (600, 1100, 200)
    assert s.self_sufficiency_permille == 450  # (2000 - 1100) / 2000
    assert s.self_sufficiency_own_pv_permille == 150  # (2000 - 1700) / 2000
    assert s.pv_self_consumption_permille == 273  # (1100 - 800) / 1100
    assert s.pv_traded_permille == 545  # 600 / 1100
    assert s.average_clearing_price == 1000
    assert s.average_local_price == 1000
    # a: 600 * 1000 + 400 * 1952 + 500 * 1952; b: -600 * 1000 - 200 * 400 + 200 * 1952.
    assert s.cost == 2_356_800 - 289_600
    # a: 1500 * 1952; b: -800 * 400 + 200 * 1952.
    assert s.baseline_cost == 2_928_000 + 70_400
    assert s.savings == 931_200
    assert (s.households_worse_off, s.worse_off_slots) == (0, 0)
    assert (s.ev_wh, s.ev_local_wh) == (300, 300)
    assert s.disputed_slots == 1
    assert s.ledger_bytes == 1800
    assert s.ledger_bytes_per_household_per_day == 1800 * 86_400 // (2 * 2 * 900)


def test_household_figures_match_the_hand_computation() -> None:
    report = scenario()
    a, b = report.households["a"], report.households["b"]
    assert a.savings == 600 * (RETAIL - 1000)
    assert b.savings == 600 * (1000 - FEED_IN)
    assert a.self_sufficiency_permille == 400  # 600 local of 1500
    assert b.self_sufficiency_permille == 600  # (500 - 200) / 500
    assert (a.local_bought_wh, b.local_sold_wh, b.grid_export_wh) == (600, 600, 200)


def test_json_is_complete_and_serialisable() -> None:
    obj = json.loads(json.dumps(scenario().to_json_obj()))
    assert obj["community"]["savings"] == 931_200
    assert [h["id"] for h in obj["households"]] == ["a", "b"]
    assert obj["households"][1]["label"] == "house with PV"
    assert obj["households"][0]["savings"] == 571_200
    assert [p["price"] for p in obj["slots"]] == [1000, None]
    assert obj["slots"][1]["disputed"] is True
    assert obj["units"]["energy"] == "Wh"
    assert scenario().to_json_obj(with_slots=False)["slots"] == []


def test_two_runs_give_byte_identical_json() -> None:
    first = json.dumps(scenario().to_json_obj(), sort_keys=True)
    assert first == json.dumps(scenario().to_json_obj(), sort_keys=True)


def test_the_summary_reads_well() -> None:
    text = scenario().summary_text()
    assert "2 households, 2 slots of 900 s (0.0 days)" in text
    assert "self-sufficiency 45.0 % (own PV only: 15.0 %)" in text
    assert "average clearing price 0.1000 EUR/kWh" in text
    assert "saved 0.09 EUR" in text  # 931,200 Wh*ticks = 9.3 cents
    assert "households worse off: 0" in text
    assert "disputed slots: 1" in text
    assert "a [flat]: saved 0.06 EUR, self-sufficiency 40.0 %" in text


def test_a_price_above_the_buyers_tariff_is_reported_as_worse_off() -> None:
    # Off-peak (1635) household bought at 1800: this slot cost it more than the grid.
    report = Report()
    settled = settle_slot(
        [
            SlotPosition(household="a", import_wh=100, export_wh=0, buy_price=1635,
                         sell_price=FEED_IN, traded_buy_wh=100, buy_amount=180_000),
            SlotPosition(household="b", import_wh=0, export_wh=100, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_sell_wh=100, sell_amount=180_000),
        ]
    )  # fmt: skip
    usage = {
        "a": HouseholdUsage(consumption_wh=100, pv_wh=0),
        "b": HouseholdUsage(consumption_wh=0, pv_wh=100),
    }
    report.add_slot(SLOT, settlements=settled, usage=usage)
    summary = report.summary()
    assert (summary.households_worse_off, summary.worse_off_slots) == (1, 1)


def test_inconsistent_slots_are_refused() -> None:
    report = scenario()
    with pytest.raises(InvalidReportInputError):
        report.add_slot(SLOT, settlements=(), usage={})
    settled = settle_slot([SlotPosition(household="c", import_wh=1, export_wh=0, buy_price=1,
                                        sell_price=0)])  # fmt: skip
    with pytest.raises(InvalidReportInputError):
        report.add_slot(SLOT + 3600, settlements=settled, usage={})


def test_an_empty_report_has_no_ratios() -> None:
    s = Report().summary()
    assert s.self_sufficiency_permille is None
    assert s.average_clearing_price is None
    assert s.ledger_bytes_per_household_per_day is None
    assert "n/a" in Report().summary_text()


def test_units_are_shown_with_integer_rounding() -> None:
    assert to_cents(150_000) == 2
    assert to_cents(-150_000) == -2
    assert money_text(-5_000_000, "EUR") == "-0.50 EUR"
    assert money_text(123_449_999, "EUR") == "12.34 EUR"
    assert price_text(1952, "EUR") == "0.1952 EUR/kWh"
    assert kwh_text(1_250) == "1.3 kWh"
    assert kwh_text(-1_250) == "-1.3 kWh"
    assert permille_text(5) == "0.5 %"
    assert days_text(7 * 86_400) == "7.0 days"


def three_sellers_and_buyers() -> Report:
    """Slot 1: s1 and s2 export 700 + 500 Wh, b1 and b2 import 400 + 300 Wh: the limit
    is the deficit, 700 Wh; 600 Wh are traded (b1 400, b2 200, all from s1).
    Slot 2: s1 exports 100 Wh, b1 imports 900 Wh: the limit is the surplus, 100 Wh, and
    all of it is traded."""
    report = Report(slot_s=900)
    first = settle_slot(
        [
            SlotPosition(household="s1", import_wh=0, export_wh=700, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_sell_wh=600, sell_amount=600_000),
            SlotPosition(household="s2", import_wh=0, export_wh=500, buy_price=RETAIL,
                         sell_price=FEED_IN),
            SlotPosition(household="b1", import_wh=400, export_wh=0, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_buy_wh=400, buy_amount=400_000),
            SlotPosition(household="b2", import_wh=300, export_wh=0, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_buy_wh=200, buy_amount=200_000),
        ]
    )  # fmt: skip
    report.add_slot(
        SLOT,
        settlements=first,
        usage={
            "s1": HouseholdUsage(consumption_wh=800, pv_wh=1500),
            "s2": HouseholdUsage(consumption_wh=300, pv_wh=800),
            "b1": HouseholdUsage(consumption_wh=400, pv_wh=0, ev_wh=400),
            "b2": HouseholdUsage(consumption_wh=300, pv_wh=0),
        },
        ev_local_wh={"b1": 300},
    )
    second = settle_slot(
        [
            SlotPosition(household="s1", import_wh=0, export_wh=100, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_sell_wh=100, sell_amount=100_000),
            SlotPosition(household="b1", import_wh=900, export_wh=0, buy_price=RETAIL,
                         sell_price=FEED_IN, traded_buy_wh=100, buy_amount=100_000),
        ]
    )  # fmt: skip
    report.add_slot(
        SLOT + 900,
        settlements=second,
        usage={
            "s1": HouseholdUsage(consumption_wh=200, pv_wh=300),
            "b1": HouseholdUsage(consumption_wh=900, pv_wh=0, ev_wh=500),
        },
        ev_local_wh={"b1": 100},
    )
    return report


def test_match_limit_and_local_shares_match_the_hand_computation() -> None:
    report = three_sellers_and_buyers()
    assert [p.match_limit_wh for p in report.slots] == [700, 100]
    assert [p.local_wh for p in report.slots] == [600, 100]
    s = report.summary()
    assert (s.local_traded_wh, s.match_limit_wh) == (700, 800)
    assert s.match_efficiency_permille == 875  # 700 / 800
    # PV 1500 + 800 + 300 = 2600, exported 700 + 500 + 100 = 1300, sold locally 700:
    # (2600 - 1300 + 700) / 2600 = 769.2 per mille
    assert s.pv_local_share_permille == 769
    assert (s.ev_wh, s.ev_local_wh, s.ev_local_share_permille) == (900, 400, 444)
    s1 = report.households["s1"]
    # s1: PV 1800, exported 800 of which 700 sold: (1800 - 800 + 700) / 1800
    assert s1.pv_local_share_permille == 944
    assert report.households["s2"].pv_local_share_permille == 375  # (800 - 500) / 800
    assert report.households["b1"].ev_local_share_permille == 444
    assert report.households["b2"].pv_local_share_permille is None
    text = report.summary_text()
    assert "matching limit 0.8 kWh" in text
    assert "match efficiency 87.5 %" in text
    assert "PV used locally 76.9 %" in text
    assert "from neighbours 0.4 kWh (44.4 %)" in text
    community = report.to_json_obj()["community"]
    assert community["match_efficiency_permille"] == 875
    assert community["pv_local_share_permille"] == 769
    assert community["ev_local_share_permille"] == 444


def test_the_cars_share_of_a_purchase_follows_its_fills() -> None:
    # 500 Wh allocated of 900 Wh of fills, 600 of them the car's: 500 * 600 / 900
    assert ev_local_wh(ev_wh=400, local_bought_wh=500, ev_filled_wh=600, filled_wh=900) == 333
    # never more than the car charged, nothing without fills
    assert ev_local_wh(ev_wh=200, local_bought_wh=500, ev_filled_wh=600, filled_wh=900) == 200
    assert ev_local_wh(ev_wh=200, local_bought_wh=0, ev_filled_wh=0, filled_wh=0) == 0


_position = st.builds(
    lambda i, imp, exp, buy, sell: SlotPosition(
        household=f"h{i}", import_wh=imp, export_wh=exp, buy_price=RETAIL, sell_price=FEED_IN,
        traded_buy_wh=buy, buy_amount=buy * 1000, traded_sell_wh=sell, sell_amount=sell * 1000,
    ),
    st.integers(0, 9), st.integers(0, 3000), st.integers(0, 3000),
    st.integers(0, 3000), st.integers(0, 3000),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(slots=st.lists(st.lists(_position, max_size=8, unique_by=lambda p: p.household),
                      max_size=4))  # fmt: skip
def test_what_is_traded_never_exceeds_the_matching_limit(slots: list[list[SlotPosition]]) -> None:
    report = Report()
    for k, positions in enumerate(slots):
        settled = settle_slot(positions)
        usage = {p.household: HouseholdUsage(consumption_wh=p.import_wh, pv_wh=p.export_wh)
                 for p in positions}  # fmt: skip
        report.add_slot(SLOT + 900 * k, settlements=settled, usage=usage)
        assert report.slots[-1].local_wh <= report.slots[-1].match_limit_wh
    summary = report.summary()
    assert summary.local_traded_wh <= summary.match_limit_wh
    assert summary.match_efficiency_permille is None or summary.match_efficiency_permille <= 1000
