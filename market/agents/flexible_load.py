"""The flexible-load buyer: buys a window's energy for a steerable load, bid ramping up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from ..model import Side
from ..terms import CommunityTerms
from .base import AgentBase, DelegatesToBase
from .errors import InvalidPowerRangeError, InvalidWindowError
from .inputs import EMPTY_OBSERVATION, Observation, SlotResult
from .intents import HISTORY_S, AgentDecision, Target
from .limits import HouseholdLimits, check_int, check_non_negative
from .ramp import PriceRamp, bid_bounds


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadWindow:
    """`energy_wh` the load needs within [start, end) (Unix seconds, UTC).

    Only slots lying wholly inside the window are used.
    """

    start: int
    end: int
    energy_wh: int

    def __post_init__(self) -> None:
        check_int("start", self.start)
        check_int("end", self.end)
        check_non_negative("energy_wh", self.energy_wh)
        if self.end <= self.start:
            raise InvalidWindowError("start < end", (self.start, self.end))


def daily_windows(
    first_midnight: int, days: int, *, start_offset_s: int, end_offset_s: int, energy_wh: int
) -> tuple[LoadWindow, ...]:
    """One window per day: [midnight + start_offset_s, midnight + end_offset_s).

    `first_midnight` is the UTC instant of the first day's local midnight (the node
    converts from the household's time zone); `end_offset_s` may exceed a day for a
    window across midnight (22:00 to 06:00 is 79_200 to 108_000).
    """
    check_non_negative("days", days)
    return tuple(
        LoadWindow(
            start=first_midnight + day * 86_400 + start_offset_s,
            end=first_midnight + day * 86_400 + end_offset_s,
            energy_wh=energy_wh,
        )
        for day in range(days)
    )


def _sorted_disjoint(windows: Sequence[LoadWindow]) -> tuple[LoadWindow, ...]:
    ordered = tuple(sorted(windows, key=lambda window: (window.start, window.end)))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise InvalidWindowError("windows", (before, after))
    return ordered


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowStatus:
    """Progress of one window: energy bought, awaiting a result, bid, still uncovered."""

    window: LoadWindow
    bought_wh: int
    awaiting_wh: int
    bid_wh: int
    uncovered_wh: int


class FlexibleLoadBuyerAgent(DelegatesToBase):
    """Buy each window's energy for a load of `power_w` (a boiler, a pool pump).

    The energy not yet bought (fills), awaiting a result (gate closed) or bid is spread
    over the window's open slots in the horizon, earliest first, at most
    min(power_w, max_import_w) x slot length per slot (never a quiet slot of the
    household's limits: the energy goes to the window's other slots); each bid follows
    the `PriceRamp` from (floor + grid fee) up to min(max_price, max_buy_price, ceiling).
    A slot whose result falls short frees its energy for the window's later slots.
    """

    def __init__(
        self,
        agent_id: str,
        terms: CommunityTerms,
        limits: HouseholdLimits,
        *,
        power_w: int,
        max_price: int,
        windows: Sequence[LoadWindow] = (),
        horizon_slots: int = 4,
        ramp: PriceRamp | None = None,
        min_order_wh: int = 10,
        resize_wh: int = 50,
    ) -> None:
        if check_int("power_w", power_w) <= 0:
            raise InvalidPowerRangeError("power_w", power_w)
        self._base = AgentBase(
            agent_id,
            Side.BUY,
            terms,
            limits,
            horizon_slots=horizon_slots,
            ramp=ramp,
            min_order_wh=min_order_wh,
        )
        self.power_w = power_w
        self.max_price = check_non_negative("max_price", max_price)
        self.resize_wh = check_non_negative("resize_wh", resize_wh)
        self.windows = _sorted_disjoint(windows)

    @property
    def slot_cap_wh(self) -> int:
        """Most energy bought in one slot."""
        base = self._base
        return base.terms.slot_energy_wh(min(self.power_w, base.limits.max_import_w))

    def add_window(self, window: LoadWindow) -> None:
        """Add a window (e.g. tomorrow's); raises `InvalidWindowError` on overlap."""
        self.windows = _sorted_disjoint((*self.windows, window))

    def bid_price(self, slot: int, now: int) -> int:
        """The bid for `slot` at `now` (see `PriceRamp` and `bid_bounds`)."""
        base = self._base
        start, end = bid_bounds(base.terms, base.limits, self.max_price, slot)
        return base.ramp.price(start, end, now, base.terms.gate_closure(slot))

    def _slots(self, window: LoadWindow) -> range:
        slot_s = self._base.terms.slot_s
        first = -(-window.start // slot_s) * slot_s
        return range(first, window.end - slot_s + 1, slot_s)

    def status(self, now: int) -> tuple[WindowStatus, ...]:
        """Per window: energy bought, awaiting a result, bid in open slots, uncovered."""
        book = self._base.book
        terms = self._base.terms
        statuses = []
        for window in self.windows:
            bought = awaiting = bid = 0
            for slot in self._slots(window):
                filled = book.filled_wh(slot)
                if filled is not None:
                    bought += filled
                elif terms.is_open(slot, now):
                    bid += book.committed_wh(slot)
                else:
                    awaiting += book.committed_wh(slot)
            uncovered = max(0, window.energy_wh - bought - awaiting - bid)
            statuses.append(
                WindowStatus(
                    window=window,
                    bought_wh=bought,
                    awaiting_wh=awaiting,
                    bid_wh=bid,
                    uncovered_wh=uncovered,
                )
            )
        return tuple(statuses)

    def targets(self, now: int) -> dict[int, int]:
        """Energy to bid per open slot in the horizon."""
        base = self._base
        terms = base.terms
        horizon = set(terms.open_slots(now, base.horizon_slots))
        cap = self.slot_cap_wh
        targets: dict[int, int] = {}
        for window in self.windows:
            if window.end <= now:
                continue
            fixed = 0
            open_slots = []
            for slot in self._slots(window):
                if terms.is_open(slot, now):
                    # the window's energy goes to slots the household trades in
                    if slot in horizon and not base.limits.is_quiet(slot, terms.slot_s):
                        open_slots.append(slot)
                else:
                    fixed += base.book.committed_wh(slot)
            remaining = max(0, window.energy_wh - fixed)
            for slot in open_slots:
                energy = min(cap, remaining)
                if energy <= 0:
                    break
                targets[slot] = energy
                remaining -= energy
        return targets

    def decide(
        self,
        now: int,
        observation: Observation = EMPTY_OBSERVATION,
        cleared: Iterable[SlotResult] = (),
    ) -> AgentDecision:
        """Bids to place and cancel at `now` (Unix seconds, UTC); ignores `observation`."""
        del observation  # the load's need is in its windows, not in the readings
        base = self._base
        dropped = base.begin(now, cleared)
        if dropped is None:
            return AgentDecision(dropped=1)
        self.windows = tuple(w for w in self.windows if w.end >= now - HISTORY_S)
        targets = {
            slot: Target(energy, self.bid_price(slot, now))
            for slot, energy in self.targets(now).items()
        }
        return base.finish(now, targets, resize_wh=self.resize_wh, dropped=dropped)
