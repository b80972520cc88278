"""A deterministic mix of households for a neighbourhood of n homes."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

from ..localtime import PARIS
from ..tariff import BASE_TARIFF, PEAK_OFF_PEAK_TARIFF, Tariff
from .battery import BatterySpec
from .ev import EvProfile, EvSpec
from .household import Household
from .load import HouseholdKind
from .pv import PvSystem
from .seeding import stream
from .site import LYON_LATITUDE, LYON_LONGITUDE, Site

# The share of each type in a French peri-urban neighbourhood (assumption: about a
# third of French homes heat with electricity, half are apartments).
KIND_MIX: Mapping[HouseholdKind, int] = MappingProxyType(
    {
        HouseholdKind.APARTMENT: 30,
        HouseholdKind.APARTMENT_ELECTRIC_HEATING: 15,
        HouseholdKind.FAMILY_HOUSE: 25,
        HouseholdKind.HOUSE_ELECTRIC_HEATING: 15,
        HouseholdKind.RETIRED_COUPLE: 15,
    }
)
HOUSES = frozenset(
    {HouseholdKind.FAMILY_HOUSE, HouseholdKind.HOUSE_ELECTRIC_HEATING, HouseholdKind.RETIRED_COUPLE}
)
ELECTRIC_HEATING = frozenset(
    {HouseholdKind.APARTMENT_ELECTRIC_HEATING, HouseholdKind.HOUSE_ELECTRIC_HEATING}
)
# Rooftop sizes (Wp) and their odds; 9 kWp is the S21 ceiling. Apartments get a
# plug-in balcony kit.
ROOF_PV_SIZES = ((3_000, 40), (4_500, 20), (6_000, 25), (9_000, 15))
BALCONY_PV_W = 800
# The EV owners' rhythms (assumption, docs/simulation.md "EVs"): a third telework part
# of the week, some work part-time, the rest commute every weekday.
EV_PROFILE_MIX: Mapping[EvProfile, int] = MappingProxyType(
    {EvProfile.COMMUTER: 50, EvProfile.TELEWORKER: 35, EvProfile.PART_TIME: 15}
)
BATTERY_SIZES = (
    BatterySpec(capacity_wh=5_000, power_w=2_500),
    BatterySpec(capacity_wh=10_000, power_w=5_000),
)


K = TypeVar("K")


class InvalidNeighbourhoodError(ValueError):
    """A neighbourhood parameter is out of range; the message names it."""


def _check_share(name: str, share: float) -> float:
    if not 0.0 <= share <= 1.0:
        raise InvalidNeighbourhoodError(f"{name} must be in [0, 1] (got {share!r})")
    return share


def _apportion(n: int, weights: Mapping[K, int]) -> list[K]:
    # Largest remainder, ties in mix order: a small neighbourhood still gets the mix's
    # most common types, and the same n always gives the same counts.
    total = sum(weights.values())
    quotas = {kind: n * weight for kind, weight in weights.items()}
    counts = {kind: quota // total for kind, quota in quotas.items()}
    order = sorted(weights, key=lambda kind: -(quotas[kind] % total))
    for kind in order[: n - sum(counts.values())]:
        counts[kind] += 1
    return [kind for kind in weights for _ in range(counts[kind])]


def _roof_pv(rng: random.Random) -> PvSystem:
    sizes, weights = zip(*ROOF_PV_SIZES, strict=True)
    return PvSystem(
        peak_w=rng.choices(sizes, weights=weights)[0],
        azimuth_deg=min(270, max(90, round(rng.gauss(180.0, 30.0)))),
        tilt_deg=min(45, max(10, round(rng.gauss(30.0, 7.0)))),
    )


def _balcony_pv(rng: random.Random) -> PvSystem:
    return PvSystem(
        peak_w=BALCONY_PV_W,
        azimuth_deg=min(270, max(90, round(rng.gauss(180.0, 40.0)))),
        tilt_deg=rng.randint(60, 90),
    )


def _ev(rng: random.Random, house: bool) -> EvSpec:
    return EvSpec(
        charger_power_w=7_400 if house and rng.random() < 0.6 else 3_700,
        daily_km=min(80, max(10, round(rng.gauss(33.0, 10.0)))),
        wh_per_km=rng.randint(160, 200),
        battery_wh=rng.choice((40_000, 50_000, 60_000, 75_000)),
    )


def _tariff(rng: random.Random, kind: HouseholdKind) -> Tariff:
    # Electric heating and an off-peak water heater are why French homes take HP/HC.
    if kind in ELECTRIC_HEATING:
        return PEAK_OFF_PEAK_TARIFF
    if kind in HOUSES and rng.random() < 0.5:
        return PEAK_OFF_PEAK_TARIFF
    return BASE_TARIFF


def make_neighbourhood(
    n: int,
    *,
    seed: int,
    latitude: float = LYON_LATITUDE,
    longitude: float = LYON_LONGITUDE,
    ev_share: float = 0.25,
    battery_share: float = 0.1,
    pv_share: float = 0.4,
    timezone: str = PARIS,
) -> tuple[Household, ...]:
    """n households with ids "h01".. in a deterministic mix for `seed`.

    Exactly round(n * share) households get PV (houses before apartments), a battery
    (only PV households, so at most the PV count) and an EV; the EVs' profiles follow
    `EV_PROFILE_MIX` by largest remainders. Every household shares the site, hence the
    weather, seeded by `seed`.
    """
    if type(n) is not int or n < 1:
        raise InvalidNeighbourhoodError(f"n must be an int >= 1 (got {n!r})")
    for name, share in (
        ("ev_share", ev_share),
        ("battery_share", battery_share),
        ("pv_share", pv_share),
    ):
        _check_share(name, share)
    site = Site(latitude=latitude, longitude=longitude, timezone=timezone, weather_seed=seed)
    rng = stream("neighbourhood", seed, n)
    kinds = _apportion(n, KIND_MIX)
    rng.shuffle(kinds)
    order = list(range(n))
    rng.shuffle(order)
    pv_order = [i for i in order if kinds[i] in HOUSES] + [
        i for i in order if kinds[i] not in HOUSES
    ]
    pv_count = round(n * pv_share)
    with_pv = set(pv_order[:pv_count])
    with_battery = set(pv_order[: min(pv_count, round(n * battery_share))])
    ev_order = order[:]
    rng.shuffle(ev_order)
    ev_homes = ev_order[: round(n * ev_share)]
    with_ev = set(ev_homes)
    # exact counts by largest remainder; ev_order is already shuffled, so who gets
    # which profile needs no further draw
    profile_of = dict(zip(ev_homes, _apportion(len(ev_homes), EV_PROFILE_MIX), strict=True))
    width = max(2, len(str(n)))
    households: list[Household] = []
    for i, kind in enumerate(kinds):
        # Each home draws from its own stream, always in the same order, so changing
        # a share changes who is equipped but never anyone's load or weather.
        own = stream("household", seed, i)
        house = kind in HOUSES
        household_seed = own.getrandbits(48)
        tariff = _tariff(own, kind)
        pv = _roof_pv(own) if house else _balcony_pv(own)
        ev = _ev(own, house)
        battery = own.choice(BATTERY_SIZES)
        households.append(
            Household(
                id=f"h{i + 1:0{width}d}",
                kind=kind,
                seed=household_seed,
                site=site,
                tariff=tariff,
                pv=pv if i in with_pv else None,
                ev=dataclasses.replace(ev, profile=profile_of[i]) if i in with_ev else None,
                battery=battery if i in with_battery else None,
            )
        )
    return tuple(households)
