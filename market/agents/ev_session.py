"""The EV charging agent: keeps a session's schedule and bids its market slots."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..model import Side
from ..terms import CommunityTerms
from .base import AgentBase, DelegatesToBase
from .errors import InvalidPowerRangeError
from .ev_plan import EvSchedule, EvSession, EvSlotPlan, SlotPhase, plan_ev
from .inputs import EMPTY_OBSERVATION, Observation, SlotResult
from .intents import AgentDecision, Target
from .limits import HouseholdLimits, check_non_negative
from .ramp import PriceRamp, bid_bounds


class EvChargingAgent(DelegatesToBase):
    """Charge `session.energy_wh` by departure, buying in the cheapest slots.

    Every call re-plans with `plan_ev` (fills and failed bids included) and places the
    plan's bids for the open slots in the horizon; each bid follows the `PriceRamp` from
    (floor + grid fee) up to min(max_price, max_buy_price, ceiling). When a slot starts,
    its plan is frozen: the node charges `energy_wh` at `power_w` in it, whatever the
    market delivered (the rest is grid energy), unless the grid fallback is off and the
    result is known, in which case only the bought energy is charged.
    """

    def __init__(
        self,
        agent_id: str,
        terms: CommunityTerms,
        limits: HouseholdLimits,
        session: EvSession,
        *,
        horizon_slots: int = 4,
        ramp: PriceRamp | None = None,
        min_order_wh: int = 10,
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
        self.session = self._checked(session)
        self._frozen: dict[int, EvSlotPlan] = {}
        self._schedule: EvSchedule | None = None
        self._charged_wh: int | None = None

    def _checked(self, session: EvSession) -> EvSession:
        if min(session.max_power_w, self._base.limits.max_import_w) < session.min_power_w:
            raise InvalidPowerRangeError(
                "min_power_w > max_import_w", (session.min_power_w, self._base.limits.max_import_w)
            )
        return session

    @property
    def max_power_w(self) -> int:
        """The session's maximum power capped by the household's import limit."""
        return min(self.session.max_power_w, self._base.limits.max_import_w)

    @property
    def bid_limit(self) -> int:
        """The highest bid this session makes (lower in slots where the household's own
        import price is lower)."""
        base = self._base
        return min(self.session.max_price, base.limits.max_buy_price, base.terms.ceiling)

    def slot_bid_limit(self, slot: int) -> int:
        """The highest bid this session makes for `slot`."""
        base = self._base
        return bid_bounds(base.terms, base.limits, self.session.max_price, slot)[1]

    @property
    def schedule(self) -> EvSchedule | None:
        """The schedule of the last call, None before the first."""
        return self._schedule

    @property
    def charged_wh(self) -> int | None:
        """What the charger measured going into the car this session (None: no meter)."""
        return self._charged_wh

    def record_charged(self, charged_wh: int) -> None:
        """The charger's measured energy since the session started (Wh, from its energy
        sensor): the next plans count it, not what the plan said, as delivered."""
        self._charged_wh = check_non_negative("charged_wh", charged_wh)

    def update_session(self, session: EvSession) -> None:
        """Replace the session (new target or departure); energy already charged counts."""
        self.session = self._checked(session)

    def bid_price(self, slot: int, now: int) -> int:
        """The bid for `slot` at `now` (see `PriceRamp` and `bid_bounds`)."""
        base = self._base
        start, end = bid_bounds(base.terms, base.limits, self.session.max_price, slot)
        return base.ramp.price(start, end, now, base.terms.gate_closure(slot))

    def decide(
        self,
        now: int,
        observation: Observation = EMPTY_OBSERVATION,
        cleared: Iterable[SlotResult] = (),
    ) -> AgentDecision:
        """Bids to place and cancel at `now`; the new plan is in `schedule`."""
        base = self._base
        dropped = base.begin(now, cleared)
        if dropped is None:
            return AgentDecision(dropped=1)
        self._freeze_started(now)
        schedule = self._plan(now, observation)
        running = base.terms.slot_of(now)
        entry = schedule.entry(running)
        if entry is not None and running not in self._frozen:
            self._frozen[running] = entry
        self._schedule = schedule
        horizon = set(base.terms.open_slots(now, base.horizon_slots))
        targets = {
            item.slot: Target(item.market_wh, self.bid_price(item.slot, now))
            for item in schedule.slots
            if item.phase is SlotPhase.OPEN and item.slot in horizon and item.market_wh > 0
        }
        return base.finish(now, targets, resize_wh=0, dropped=dropped)

    def _freeze_started(self, now: int) -> None:
        """Freeze the last plan of every slot that has started since the previous call.

        A result that arrives after its slot started only changes the market/grid split
        of the frozen entry: the energy was charged either way.
        """
        book = self._base.book
        for slot, item in list(self._frozen.items()):
            filled = book.filled_wh(slot)
            if not item.market_final and filled is not None:
                market = min(filled, item.energy_wh)
                self._frozen[slot] = replace(
                    item, market_wh=market, grid_wh=item.energy_wh - market, market_final=True
                )
        if self._schedule is None:
            return
        for item in self._schedule.slots:
            if item.slot > now or item.slot in self._frozen:
                continue
            filled = book.filled_wh(item.slot)
            if filled is None:
                frozen = replace(item, phase=SlotPhase.STARTED)
            else:
                market = min(filled, item.energy_wh)
                energy = item.energy_wh if self.session.grid_fallback else market + item.grid_wh
                frozen = replace(
                    item,
                    phase=SlotPhase.STARTED,
                    energy_wh=energy,
                    market_wh=market,
                    grid_wh=energy - market,
                    market_final=True,
                )
            self._frozen[item.slot] = frozen

    def _quiet(self, slot: int) -> bool:
        base = self._base
        return base.limits.is_quiet(slot, base.terms.slot_s)

    def _plan(self, now: int, observation: Observation) -> EvSchedule:
        terms = self._base.terms
        book = self._base.book
        locked: dict[int, tuple[int, bool]] = {}
        for intent in book.live_intents():
            if intent.slot > now and not terms.is_open(intent.slot, now):
                filled = book.filled_wh(intent.slot)
                locked[intent.slot] = (
                    (intent.energy_wh, False) if filled is None else (filled, True)
                )
        return plan_ev(
            now=now,
            session=self.session,
            terms=terms,
            max_power_w=self.max_power_w,
            bid_limit=self.bid_limit,
            slot_limit=self.slot_bid_limit,
            quiet=self._quiet,
            frozen=self._frozen,
            locked_market=locked,
            expected_prices=observation.expected_prices,
            charged_wh=self._charged_wh,
        )
