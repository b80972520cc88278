"""The neighbourhood mix: deterministic, shares honoured, equipment where it makes sense."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from market.localtime import local_midnight_utc
from market.sim.load import HouseholdKind
from market.sim.neighbourhood import HOUSES, InvalidNeighbourhoodError, make_neighbourhood
from market.tariff import PEAK_OFF_PEAK_TARIFF


def test_the_same_seed_gives_the_same_neighbourhood() -> None:
    first = make_neighbourhood(40, seed=11)
    assert first == make_neighbourhood(40, seed=11)
    assert first != make_neighbourhood(40, seed=12)
    assert [h.id for h in first] == [f"h{i:02d}" for i in range(1, 41)]
    assert len({h.seed for h in first}) == 40


def test_shares_are_exact_counts() -> None:
    homes = make_neighbourhood(40, seed=1, pv_share=0.45, ev_share=0.25, battery_share=0.1)
    assert sum(h.pv is not None for h in homes) == 18
    assert sum(h.ev is not None for h in homes) == 10
    assert sum(h.battery is not None for h in homes) == 4
    assert all(h.pv is not None for h in homes if h.battery is not None)
    # PV goes on houses first; only then on apartment balconies.
    houses = sum(h.kind in HOUSES for h in homes)
    assert sum(h.pv is not None for h in homes if h.kind in HOUSES) == min(18, houses)


def test_the_mix_follows_the_type_weights() -> None:
    kinds = Counter(h.kind for h in make_neighbourhood(20, seed=2))
    assert kinds == {
        HouseholdKind.APARTMENT: 6,
        HouseholdKind.APARTMENT_ELECTRIC_HEATING: 3,
        HouseholdKind.FAMILY_HOUSE: 5,
        HouseholdKind.HOUSE_ELECTRIC_HEATING: 3,
        HouseholdKind.RETIRED_COUPLE: 3,
    }
    assert sum(1 for _ in make_neighbourhood(1, seed=2)) == 1


def test_electric_heating_homes_take_hp_hc() -> None:
    for home in make_neighbourhood(30, seed=3):
        if home.kind in {
            HouseholdKind.APARTMENT_ELECTRIC_HEATING,
            HouseholdKind.HOUSE_ELECTRIC_HEATING,
        }:
            assert home.tariff == PEAK_OFF_PEAK_TARIFF


def test_changing_a_share_never_changes_anyones_load() -> None:
    few = make_neighbourhood(12, seed=4, pv_share=0.1)
    many = make_neighbourhood(12, seed=4, pv_share=0.9)
    slot = local_midnight_utc(date(2025, 5, 1)) + 8 * 3600
    for a, b in zip(few, many, strict=True):
        assert (a.kind, a.seed) == (b.kind, b.seed)
        assert a.slot_energy(slot).load_wh == b.slot_energy(slot).load_wh


def test_everyone_shares_the_site_and_its_weather() -> None:
    homes = make_neighbourhood(5, seed=5, latitude=48.85, longitude=2.35)
    assert len({h.site for h in homes}) == 1
    assert homes[0].site.latitude == 48.85
    assert homes[0].site.weather_seed == 5
    assert "pv" in next(h for h in make_neighbourhood(5, seed=5, pv_share=1.0)).describe()


@pytest.mark.parametrize(
    ("n", "shares"),
    [(0, {}), (3, {"pv_share": 1.5}), (3, {"ev_share": -0.1}), (3, {"battery_share": 2.0})],
)
def test_invalid_parameters_are_refused(n: int, shares: dict[str, float]) -> None:
    with pytest.raises(InvalidNeighbourhoodError):
        make_neighbourhood(n, seed=1, **shares)
