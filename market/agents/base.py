"""What every agent shares: identity, terms, the clock check and the drop counter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..model import Side
from ..terms import CommunityTerms
from .errors import InvalidAgentInputError
from .inputs import SlotResult
from .intents import AgentDecision, IntentBook, OrderIntent, Target
from .limits import HouseholdLimits, check_int, check_non_negative
from .ramp import PriceRamp


class InvalidAgentIdError(InvalidAgentInputError):
    """An agent id is empty, not a string, or contains ':' (the intent id separator)."""

    rule = "agent_id must be a non-empty string without ':'"


class AgentBase:
    """Shared state of the agents. Subclasses implement `decide`.

    Calls whose `now` is earlier than a previous call's are dropped (counted), so a
    clock step backwards can never walk a price ramp backwards.
    """

    def __init__(
        self,
        agent_id: str,
        side: Side,
        terms: CommunityTerms,
        limits: HouseholdLimits,
        *,
        horizon_slots: int,
        ramp: PriceRamp | None,
        min_order_wh: int,
    ) -> None:
        if not isinstance(agent_id, str) or not agent_id or ":" in agent_id:
            raise InvalidAgentIdError("agent_id", agent_id)
        check_non_negative("horizon_slots", horizon_slots)
        check_non_negative("min_order_wh", min_order_wh)
        self.agent_id = agent_id
        self.terms = terms
        self.limits = limits
        self.horizon_slots = horizon_slots
        self.ramp = ramp or PriceRamp()
        self.book = IntentBook(agent_id, side, terms, min_order_wh=max(1, min_order_wh))
        self.dropped_total = 0
        self._last_now: int | None = None

    def live_intents(self) -> tuple[OrderIntent, ...]:
        """The intents this agent currently has (or had at gate closure) on the book."""
        return self.book.live_intents()

    def begin(self, now: int, cleared: Iterable[SlotResult]) -> int | None:
        """Check the clock and apply results; None when the call must be dropped."""
        check_int("now", now)
        if self._last_now is not None and now < self._last_now:
            self.dropped_total += 1
            return None
        self._last_now = now
        self.book.prune(now)
        return self.book.apply_results(cleared, now)

    def finish(
        self, now: int, targets: Mapping[int, Target], *, resize_wh: int, dropped: int
    ) -> AgentDecision:
        """Turn a call's targets into its decision, counting the inputs it dropped.

        A slot in the household's quiet hours gets no target whatever the agent wanted,
        so its live intent (placed before the hours were set) is cancelled while the
        gate is open: one place that every agent goes through.
        """
        slot_s = self.terms.slot_s
        allowed = {
            slot: target
            for slot, target in targets.items()
            if not self.limits.is_quiet(slot, slot_s)
        }
        decision = self.book.reconcile(now, allowed, resize_wh=resize_wh)
        self.dropped_total += dropped
        return AgentDecision(place=decision.place, cancel=decision.cancel, dropped=dropped)


class DelegatesToBase:
    """What every agent exposes the same way: read through its AgentBase."""

    _base: AgentBase

    @property
    def agent_id(self) -> str:
        """The agent's id, the prefix of its intent ids."""
        return self._base.agent_id

    @property
    def dropped_total(self) -> int:
        """Inputs dropped since the agent was created."""
        return self._base.dropped_total

    @property
    def live_intents(self) -> tuple[OrderIntent, ...]:
        """The intents this agent has on the book, by slot."""
        return self._base.live_intents()

    @property
    def limits(self) -> HouseholdLimits:
        """What the household allows the agent."""
        return self._base.limits

    def set_limits(self, limits: HouseholdLimits) -> None:
        """Work within new limits (a changed contract, prices or quiet hours) from the
        next call on: orders on the book are re-priced, and cancelled in new quiet hours,
        while their gate is open."""
        self._base.limits = limits
