"""The PV seller: offers the forecast surplus of the coming slots, ask ramping down."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Side
from ..terms import CommunityTerms
from .base import AgentBase, DelegatesToBase
from .forecast import PersistenceForecaster, forecast_surplus, future_readings
from .inputs import EMPTY_OBSERVATION, Observation, SlotResult
from .intents import AgentDecision, Target
from .limits import HouseholdLimits, check_non_negative
from .ramp import PriceRamp, ask_bounds


class PvSellerAgent(DelegatesToBase):
    """Sell forecast PV surplus in the next `horizon_slots` open slots (with a solar
    forecast in the observation, `forecast_horizon_slots`: the forecast sees further).

    Per open slot: energy = min(forecast surplus, max_export_w x slot length); ask =
    the `PriceRamp` from (ceiling - grid fee) down to max(floor, min_sell_price) as the
    slot's gate closure nears. A slot's order is replaced (cancel + new) when the ramp
    moves to its next level, when the forecast drops below the offer (never over-offer)
    or grows by more than `resize_wh`.
    """

    def __init__(
        self,
        agent_id: str,
        terms: CommunityTerms,
        limits: HouseholdLimits,
        *,
        horizon_slots: int = 4,
        forecast_horizon_slots: int = 8,
        ramp: PriceRamp | None = None,
        forecaster: PersistenceForecaster | None = None,
        min_order_wh: int = 10,
        resize_wh: int = 50,
    ) -> None:
        self._base = AgentBase(
            agent_id,
            Side.SELL,
            terms,
            limits,
            horizon_slots=horizon_slots,
            ramp=ramp,
            min_order_wh=min_order_wh,
        )
        self.forecaster = forecaster or PersistenceForecaster()
        self.forecast_horizon_slots = max(
            horizon_slots, check_non_negative("forecast_horizon_slots", forecast_horizon_slots)
        )
        self.resize_wh = check_non_negative("resize_wh", resize_wh)

    def sold_wh(self, slot: int) -> int | None:
        """Energy sold in `slot`, or None before its result is known."""
        return self._base.book.filled_wh(slot)

    def ask_price(self, slot: int, now: int) -> int:
        """The ask for `slot` at `now` (see `PriceRamp` and `ask_bounds`)."""
        base = self._base
        start, end = ask_bounds(base.terms, base.limits, slot)
        return base.ramp.price(start, end, now, base.terms.gate_closure(slot))

    def offer_wh(self, now: int, observation: Observation) -> tuple[dict[int, int], int]:
        """Energy to offer per coming open slot, and how many inputs were dropped."""
        base = self._base
        terms = base.terms
        if observation.forecast is not None:
            slots = terms.open_slots(now, base.horizon_slots)
            surplus, dropped = forecast_surplus(observation.forecast, slots, terms)
        else:
            with_pv = observation.pv_forecast is not None
            ahead = self.forecast_horizon_slots if with_pv else base.horizon_slots
            slots = terms.open_slots(now, ahead)
            surplus = self.forecaster.surplus_wh(
                observation.readings, now, slots, terms, observation.pv_forecast
            )
            dropped = 0
        dropped += future_readings(observation.readings, now)
        cap = terms.slot_energy_wh(base.limits.max_export_w)
        return {slot: min(energy, cap) for slot, energy in surplus.items()}, dropped

    def decide(
        self,
        now: int,
        observation: Observation = EMPTY_OBSERVATION,
        cleared: Iterable[SlotResult] = (),
    ) -> AgentDecision:
        """Asks to place and cancel at `now` (Unix seconds, UTC)."""
        base = self._base
        dropped = base.begin(now, cleared)
        if dropped is None:
            return AgentDecision(dropped=1)
        offers, forecast_dropped = self.offer_wh(now, observation)
        targets = {
            slot: Target(energy, self.ask_price(slot, now)) for slot, energy in offers.items()
        }
        return base.finish(
            now, targets, resize_wh=self.resize_wh, dropped=dropped + forecast_dropped
        )
