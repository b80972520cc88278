"""What the node hands to an agent: readings, per-slot forecasts, cleared slots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..model import ClearingResult
from .limits import check_int, check_non_negative


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One live sample of the household's grid connection at `at`: the power (W) it
    exports and the power it imports, as its meter sees them.

    A meter sees the net flow only: the export is the PV the house does not use, the
    import the load (steered or not) the PV does not cover.
    """

    at: int
    export_w: int
    import_w: int

    def __post_init__(self) -> None:
        check_int("at", self.at)
        check_non_negative("export_w", self.export_w)
        check_non_negative("import_w", self.import_w)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotForecast:
    """Forecast PV production and base load (Wh) over one slot starting at `slot`."""

    slot: int
    pv_wh: int
    load_wh: int

    def __post_init__(self) -> None:
        check_int("slot", self.slot)
        check_non_negative("pv_wh", self.pv_wh)
        check_non_negative("load_wh", self.load_wh)

    @property
    def surplus_wh(self) -> int:
        """Energy left to export over the slot (0 when the load eats all the PV)."""
        return max(0, self.pv_wh - self.load_wh)


def _frozen_per_slot(name: str, values: Mapping[int, int]) -> Mapping[int, int]:
    for slot, value in values.items():
        check_int(f"{name} slot", slot)
        check_non_negative(f"{name}[{slot}]", value)
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """The household as the node sees it at one decision.

    `readings`: recent samples, any order (the default forecaster uses the last few).
    `forecast`: per-slot PV/load forecast; when given it is authoritative and slots it
    does not cover are not offered. `expected_prices`: an expected clearing price per
    slot start (ticks), used by the EV planner to pick the cheapest slots. `demand`: the
    grid import (Wh) expected per slot start, as the household's meter will measure it
    (after its own PV), e.g. learned from its readings (`DemandForecaster`); when given,
    the consumption buyer bids it rather than the forecast's deficit, and a slot it does
    not cover gets no bid. `pv_forecast`: the household's own PV production (Wh)
    expected per slot start, from a solar forecast service (`slot_production`); the PV
    seller then offers further ahead, the recent surplus moved by the forecast's change.
    """

    readings: tuple[Reading, ...] = ()
    forecast: tuple[SlotForecast, ...] | None = None
    expected_prices: Mapping[int, int] = field(default_factory=dict)
    demand: Mapping[int, int] | None = None
    pv_forecast: Mapping[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "readings", tuple(self.readings))
        if self.forecast is not None:
            object.__setattr__(self, "forecast", tuple(self.forecast))
        object.__setattr__(
            self, "expected_prices", _frozen_per_slot("expected_prices", self.expected_prices)
        )
        if self.demand is not None:
            object.__setattr__(self, "demand", _frozen_per_slot("demand", self.demand))
        if self.pv_forecast is not None:
            object.__setattr__(
                self, "pv_forecast", _frozen_per_slot("pv_forecast", self.pv_forecast)
            )


EMPTY_OBSERVATION = Observation()


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotResult:
    """The cleared outcome of one slot: energy filled per order id (Wh).

    Orders that traded nothing may be absent. A disputed slot (no trade) is a result
    with no fills. `price` is the uniform price when the mechanism has one. `late`: the
    community's result, reached after this node had reported the slot disputed (or
    while it was away); it replaces what was delivered for the slot before.
    """

    slot: int
    fills: Mapping[str, int]
    price: int | None = None
    late: bool = False

    def __post_init__(self) -> None:
        check_int("slot", self.slot)
        for order_id, energy in self.fills.items():
            check_non_negative(f"fills[{order_id!r}]", energy)
        if self.price is not None:
            check_non_negative("price", self.price)
        object.__setattr__(self, "fills", MappingProxyType(dict(self.fills)))

    @classmethod
    def from_clearing(cls, slot: int, result: ClearingResult) -> SlotResult:
        """The agents' view of a `ClearingResult` (order ids must be the intent ids)."""
        return cls(slot=slot, fills=result.fills_by_order(), price=result.price)
