"""Grid tariffs: base, HP/HC and Tempo prices by local time and by what the meter says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from market.meter.frame import Mode
from market.meter.state import MeterState
from market.tariff import (
    BASE_TARIFF,
    PEAK_OFF_PEAK_TARIFF,
    TEMPO_TARIFF,
    InvalidTariffError,
    MeterPeriod,
    Tariff,
    TempoColour,
    tariff_of_contract,
)


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def test_the_base_tariff_is_flat() -> None:
    for t in (utc(2025, 1, 15, 3), utc(2025, 7, 15, 12)):
        assert BASE_TARIFF.buy_price(t) == 1952
        assert BASE_TARIFF.sell_price(t) == 400
        assert not BASE_TARIFF.is_off_peak_hour(t)


@pytest.mark.parametrize(
    ("moment", "price"),
    [
        (utc(2025, 1, 15, 20, 59), 2081),  # 21:59 CET
        (utc(2025, 1, 15, 21, 0), 1635),  # 22:00 CET
        (utc(2025, 1, 16, 4, 59), 1635),  # 05:59 CET
        (utc(2025, 1, 16, 5, 0), 2081),  # 06:00 CET
        (utc(2025, 7, 15, 19, 59), 2081),  # 21:59 CEST
        (utc(2025, 7, 15, 20, 0), 1635),  # 22:00 CEST
        (utc(2025, 7, 16, 3, 59), 1635),  # 05:59 CEST
        (utc(2025, 7, 16, 4, 0), 2081),  # 06:00 CEST
    ],
)
def test_off_peak_hours_follow_the_local_clock(moment: int, price: int) -> None:
    assert PEAK_OFF_PEAK_TARIFF.buy_price(moment) == price
    assert PEAK_OFF_PEAK_TARIFF.sell_price(moment) == 400


def test_off_peak_hours_need_not_cross_midnight() -> None:
    # Enedis moves part of the off-peak hours to the early afternoon, to absorb solar.
    split = Tariff(
        name="split",
        retail=2000,
        off_peak=1500,
        off_peak_windows=((2 * 60, 7 * 60), (12 * 60 + 30, 15 * 60 + 30)),
    )
    assert split.buy_price(utc(2025, 1, 15, 11, 30)) == 1500  # 12:30 CET
    assert split.buy_price(utc(2025, 1, 15, 14, 29)) == 1500  # 15:29 CET
    assert split.buy_price(utc(2025, 1, 15, 14, 30)) == 2000  # 15:30 CET
    assert split.buy_price(utc(2025, 1, 15, 0, 59)) == 2000  # 01:59 CET
    assert split.buy_price(utc(2025, 1, 15, 1, 0)) == 1500  # 02:00 CET


@pytest.mark.parametrize(
    "fields",
    [
        {"retail": -1},
        {"retail": 1952.0},
        {"retail": 1, "off_peak": -5},
        {"retail": 1, "off_peak_windows": ((0, 1440),)},
        {"retail": 1, "feed_in": -1},
    ],
)
def test_invalid_tariffs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidTariffError):
        Tariff(name="x", **fields)  # type: ignore[arg-type]


def test_what_the_meter_says_beats_the_hours_typed() -> None:
    # 23:00 CET is off-peak by the default hours; a meter whose hours were moved says HP.
    night = utc(2025, 1, 15, 22)
    peak = MeterPeriod.of(MeterState(mode=Mode.HISTORIC, tariff_period="HP..", off_peak=False))
    assert PEAK_OFF_PEAK_TARIFF.buy_price(night) == 1635
    assert PEAK_OFF_PEAK_TARIFF.buy_price(night, peak) == 2081
    assert PEAK_OFF_PEAK_TARIFF.buy_price(utc(2025, 1, 15, 12), MeterPeriod(off_peak=True)) == 1635


@pytest.mark.parametrize(
    ("colour", "off_peak", "price"),
    [
        (TempoColour.BLUE, False, 1494),
        (TempoColour.BLUE, True, 1232),
        (TempoColour.WHITE, False, 1730),
        (TempoColour.WHITE, True, 1391),
        (TempoColour.RED, False, 6468),
        (TempoColour.RED, True, 1460),
    ],
)
def test_tempo_prices_follow_the_colour_the_meter_shows(
    colour: TempoColour, off_peak: bool, price: int
) -> None:
    state = MeterState(mode=Mode.STANDARD, off_peak=off_peak, tempo_today=colour)
    assert TEMPO_TARIFF.buy_price(utc(2025, 1, 15, 12), MeterPeriod.of(state)) == price


def test_a_tempo_day_of_unknown_colour_is_priced_blue() -> None:
    # Blue is the cheapest colour: an agent bounded by it never pays above the real price.
    unknown = MeterPeriod.of(MeterState(mode=Mode.STANDARD, tempo_today=TempoColour.NONE))
    assert unknown == MeterPeriod()
    assert TEMPO_TARIFF.buy_price(utc(2025, 1, 15, 12), unknown) == 1494  # 13:00 CET, peak
    assert TEMPO_TARIFF.buy_price(utc(2025, 1, 15, 22)) == 1232  # 23:00 CET, off-peak


@pytest.mark.parametrize(
    ("option", "name"),
    [
        ("BASE", "base"),
        ("HC..", "hp_hc"),
        ("BBR(", "tempo"),
        ("      BASE      ", "base"),
        ("H PLEINE/CREUSE", "hp_hc"),
        ("TEMPO", "tempo"),
        ("EJP.", None),
        (None, None),
    ],
)
def test_the_meter_names_its_contract(option: str | None, name: str | None) -> None:
    tariff = tariff_of_contract(option)
    assert (tariff and tariff.name) == name
