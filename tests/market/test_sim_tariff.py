"""Grid tariffs: base and HP/HC prices by local time, summer and winter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from market.sim.tariff import BASE_TARIFF, PEAK_OFF_PEAK_TARIFF, InvalidTariffError, Tariff


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def test_the_base_tariff_is_flat() -> None:
    for t in (utc(2025, 1, 15, 3), utc(2025, 7, 15, 12)):
        assert BASE_TARIFF.buy_price(t) == 1952
        assert BASE_TARIFF.sell_price(t) == 400
        assert not BASE_TARIFF.is_off_peak(t)


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
    midday = Tariff(
        name="midday", retail=2000, off_peak=1500, off_peak_start_h=12, off_peak_end_h=14
    )
    assert midday.buy_price(utc(2025, 1, 15, 11, 30)) == 1500  # 12:30 CET
    assert midday.buy_price(utc(2025, 1, 15, 13, 0)) == 2000  # 14:00 CET


@pytest.mark.parametrize(
    "fields",
    [
        {"retail": -1},
        {"retail": 1952.0},
        {"retail": 1, "off_peak": -5},
        {"retail": 1, "off_peak_start_h": 24},
    ],
)
def test_invalid_tariffs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidTariffError):
        Tariff(name="x", **fields)  # type: ignore[arg-type]
