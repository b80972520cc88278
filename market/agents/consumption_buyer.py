"""The consumption buyer: bids for the forecast deficit of the coming slots, bid ramping
up — what a household without steerable loads still gains from its neighbours' surplus."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Side
from ..terms import CommunityTerms
from .base import AgentBase, DelegatesToBase
from .inputs import EMPTY_OBSERVATION, Observation, SlotResult
from .intents import AgentDecision, Target
from .limits import HouseholdLimits, check_int, check_non_negative
from .ramp import PriceRamp, bid_bounds


class ConsumptionBuyerAgent(DelegatesToBase):
    """Buy the expected deficit of the next `horizon_slots` open slots.

    The deficit of a slot is `observation.demand` (the grid import expected, e.g. learned
    from the household's readings) when the observation has one, else the forecast's
    base load minus PV; slots neither covers get no bid. Per open slot: energy =
    min(deficit, max_import_w x slot length); bid = the `PriceRamp` from the lowest bid
    that can trade up to min(max_buy_price, the slot's import price, ceiling) as gate
    closure nears. Bidding at most its own retail price, the household never pays more
    than the grid.
    """

    def __init__(
        self,
        agent_id: str,
        terms: CommunityTerms,
        limits: HouseholdLimits,
        *,
        horizon_slots: int = 4,
        ramp: PriceRamp | None = None,
        min_order_wh: int = 10,
        resize_wh: int = 50,
    ) -> None:
        self._base = AgentBase(
            agent_id,
            Side.BUY,
            terms,
            limits,
            horizon_slots=horizon_slots,
            ramp=ramp,
            min_order_wh=min_order_wh,
        )
        self.resize_wh = check_non_negative("resize_wh", resize_wh)

    @property
    def buys_forecast_demand(self) -> bool:
        """It buys the household's expected import: its fills are not a steered load's
        (the node's demand forecast subtracts every other buyer's, not these)."""
        return True

    def bid_price(self, slot: int, now: int) -> int:
        """The bid for `slot` at `now`."""
        base = self._base
        start, end = bid_bounds(base.terms, base.limits, base.limits.max_buy_price, slot)
        return base.ramp.price(start, end, now, base.terms.gate_closure(slot))

    def decide(
        self,
        now: int,
        observation: Observation = EMPTY_OBSERVATION,
        cleared: Iterable[SlotResult] = (),
    ) -> AgentDecision:
        """Bids to place and cancel at `now` (Unix seconds, UTC)."""
        base = self._base
        dropped = base.begin(now, cleared)
        if dropped is None:
            return AgentDecision(dropped=1)
        terms = base.terms
        wanted = set(terms.open_slots(now, base.horizon_slots))
        cap = terms.slot_energy_wh(base.limits.max_import_w)
        deficits, unaligned = _deficits(observation, wanted, cap, terms.slot_s)
        targets = {
            slot: Target(energy, self.bid_price(slot, now)) for slot, energy in deficits.items()
        }
        return base.finish(now, targets, resize_wh=self.resize_wh, dropped=dropped + unaligned)


def _deficits(
    observation: Observation, wanted: set[int], cap: int, slot_s: int
) -> tuple[dict[int, int], int]:
    """The energy to bid per wanted slot, and how many unaligned entries were dropped."""
    deficits: dict[int, int] = {}
    dropped = 0
    if observation.demand is not None:
        for slot, energy in observation.demand.items():
            if slot in wanted:
                deficits[slot] = min(energy, cap)
            elif slot % slot_s:
                dropped += 1
        return deficits, dropped
    for entry in observation.forecast or ():
        if check_int("slot", entry.slot) in wanted and entry.slot not in deficits:
            deficits[entry.slot] = min(max(0, entry.load_wh - entry.pv_wh), cap)
        elif entry.slot % slot_s:
            dropped += 1
    return deficits, dropped
