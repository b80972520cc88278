"""The EV charging planner: a pure function from a session's state to a schedule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ..terms import CommunityTerms
from ..units import SECONDS_PER_HOUR, energy_wh
from .errors import InvalidPowerRangeError
from .limits import check_int, check_non_negative

_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSession:
    """A car plugged in: `energy_wh` needed in total by `departure` (Unix s, UTC).

    Never bid above `max_price` (ticks). While charging, power stays within
    [min_power_w, max_power_w] (a charger cannot go below ~6 A: 1.4 kW single-phase,
    4.1 kW three-phase). With `grid_fallback`, energy the market cannot deliver in time
    is charged from the grid so the car is full at departure. `min_energy_wh` (the
    "minimum state of charge first" mode): so much is charged at once, from the grid
    where the market has not delivered it, before the rest waits for cheap slots.
    `surplus_only_wh`: the last part of `energy_wh` is bought from the neighbours or not
    at all, never from the grid (evcc's "PV" top-up: a car at home in daylight fills
    its battery beyond what it needs when surplus is there); the plan is feasible
    without it.
    """

    energy_wh: int
    departure: int
    max_price: int
    min_power_w: int
    max_power_w: int
    grid_fallback: bool = True
    min_energy_wh: int = 0
    surplus_only_wh: int = 0

    def __post_init__(self) -> None:
        check_non_negative("energy_wh", self.energy_wh)
        check_int("departure", self.departure)
        check_non_negative("max_price", self.max_price)
        check_int("min_power_w", self.min_power_w)
        check_int("max_power_w", self.max_power_w)
        if self.min_power_w <= 0 or self.max_power_w < self.min_power_w:
            raise InvalidPowerRangeError(
                "min_power_w, max_power_w", (self.min_power_w, self.max_power_w)
            )
        if not isinstance(self.grid_fallback, bool):
            raise InvalidPowerRangeError("grid_fallback", self.grid_fallback)
        if check_non_negative("min_energy_wh", self.min_energy_wh) > self.energy_wh:
            raise InvalidPowerRangeError(
                "min_energy_wh > energy_wh", (self.min_energy_wh, self.energy_wh)
            )
        surplus_only = check_non_negative("surplus_only_wh", self.surplus_only_wh)
        if surplus_only + self.min_energy_wh > self.energy_wh:
            raise InvalidPowerRangeError(
                "min_energy_wh + surplus_only_wh > energy_wh",
                (self.min_energy_wh, surplus_only, self.energy_wh),
            )


class SlotPhase(StrEnum):
    """Where a slot of the schedule stands at planning time."""

    STARTED = "started"  # under way or delivered: its plan is frozen
    LOCKED = "locked"  # gate closed, not started: the market part is fixed
    OPEN = "open"  # gate open: the market part is a bid


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSlotPlan:
    """Charge `energy_wh` in `slot` at `power_w` (until the energy is in, then stop).

    `market_wh` is bought (or bid) on the market, `grid_wh` must come from the grid;
    `market_final` tells whether `market_wh` is a cleared fill rather than a bid.
    """

    slot: int
    phase: SlotPhase
    energy_wh: int
    power_w: int
    market_wh: int
    grid_wh: int
    market_final: bool

    def to_json_obj(self) -> dict[str, Any]:
        """The entry as a JSON object."""
        return {
            "slot": self.slot,
            "phase": str(self.phase),
            "energy_wh": self.energy_wh,
            "power_w": self.power_w,
            "market_wh": self.market_wh,
            "grid_wh": self.grid_wh,
            "market_final": self.market_final,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSchedule:
    """The whole plan of a session at `now`: past, frozen and future slots.

    `shortfall_wh` is what cannot be in the car by departure (0 when feasible).
    """

    now: int
    session: EvSession
    slots: tuple[EvSlotPlan, ...]
    shortfall_wh: int

    @property
    def feasible(self) -> bool:
        """Whether the plan meets the session's energy by departure."""
        return self.shortfall_wh == 0

    @property
    def planned_wh(self) -> int:
        """Energy of every slot of the plan, delivered ones included."""
        return sum(entry.energy_wh for entry in self.slots)

    @property
    def market_wh(self) -> int:
        """Energy bought or bid on the market."""
        return sum(entry.market_wh for entry in self.slots)

    @property
    def grid_wh(self) -> int:
        """Energy that must come from the grid."""
        return sum(entry.grid_wh for entry in self.slots)

    @property
    def grid_slots(self) -> tuple[int, ...]:
        """Slots not yet started that charge from the grid ("charge from grid in X")."""
        return tuple(
            entry.slot
            for entry in self.slots
            if entry.grid_wh > 0 and entry.phase is not SlotPhase.STARTED
        )

    def entry(self, slot: int) -> EvSlotPlan | None:
        """The plan of `slot`, if the schedule charges in it."""
        for entry in self.slots:
            if entry.slot == slot:
                return entry
        return None

    def to_json_obj(self) -> dict[str, Any]:
        """The schedule as a JSON object (what `python -m market agents ev-plan` prints)."""
        return {
            "now": self.now,
            "departure": self.session.departure,
            "energy_wh": self.session.energy_wh,
            "planned_wh": self.planned_wh,
            "market_wh": self.market_wh,
            "grid_wh": self.grid_wh,
            "shortfall_wh": self.shortfall_wh,
            "grid_slots": list(self.grid_slots),
            "slots": [entry.to_json_obj() for entry in self.slots],
        }


def slot_power_w(energy: int, duration_s: int, min_power_w: int, max_power_w: int) -> int:
    """Charging power for `energy` Wh in `duration_s`: just enough, within [min, max]."""
    needed = -(-energy * SECONDS_PER_HOUR // duration_s)
    return min(max(needed, min_power_w), max_power_w)


@dataclass(slots=True)
class _Slot:
    slot: int
    phase: SlotPhase
    duration_s: int
    cap_wh: int
    market_wh: int = 0
    market_final: bool = False
    grid_wh: int = 0
    bid_candidate: bool = False


def plan_ev(
    *,
    now: int,
    session: EvSession,
    terms: CommunityTerms,
    max_power_w: int,
    bid_limit: int,
    frozen: Mapping[int, EvSlotPlan] = _EMPTY,
    locked_market: Mapping[int, tuple[int, bool]] = _EMPTY,
    expected_prices: Mapping[int, int] = _EMPTY,
    slot_limit: Callable[[int], int] | None = None,
    charged_wh: int | None = None,
    quiet: Callable[[int], bool] | None = None,
) -> EvSchedule:
    """Plan a session at `now`.

    `frozen`: slots already started, whose plan can no longer change (counted as
    delivered). `locked_market`: per slot whose gate has closed, the market energy
    (fill, or the bid awaiting its result) and whether it is a fill. `max_power_w`: the
    session's maximum capped by the household's import limit. `bid_limit`: the highest
    bid the session may make; an open slot whose expected price exceeds it gets no bid.
    `slot_limit`: a lower limit for some slots (the household's import price there), so
    that an off-peak slot is bid on only up to the off-peak price. `charged_wh`: what
    the charger measured going into the car since the session started; when given it
    replaces the frozen plans of the slots before the one under way as what was
    delivered (a car that drew less than planned, or was unplugged an hour, is planned
    for what it really lacks), and the slot under way counts for the rest of its plan.
    `quiet`: whether a slot lies in the household's "don't trade" hours; such a slot
    gets no bid, but the grid fallback may still charge in it (the hours forbid trading,
    not charging).

    Rules: (1) energy still needed = session energy - frozen energy - locked market
    energy; (2) bids go to the cheapest open slots (expected price, unknown prices
    count as the limit, ties to the earlier slot), a full slot each; (3) with grid
    fallback, what bids cannot cover goes to the grid in the latest slots with room
    left, so the market keeps every chance before the grid is used; (4) what still
    does not fit is the shortfall. Only slots that end by departure are used.
    """
    if max_power_w < session.min_power_w:
        raise InvalidPowerRangeError("max_power_w", (session.min_power_w, max_power_w))
    done = {slot: entry for slot, entry in frozen.items() if entry.energy_wh > 0}
    delivered = _delivered(now, terms, done, charged_wh)
    need = max(0, session.energy_wh - delivered)
    slots: list[_Slot] = []
    if now < session.departure and need > 0:
        slots = _future_slots(now, session, terms, max_power_w, done, locked_market)
    need -= sum(item.market_wh for item in slots)
    need = _minimum_first(slots, max(0, session.min_energy_wh - delivered), need)
    candidates = [
        item
        for item in slots
        if item.phase is SlotPhase.OPEN and (quiet is None or not quiet(item.slot))
    ]
    limits = {
        item.slot: bid_limit if slot_limit is None else min(bid_limit, slot_limit(item.slot))
        for item in candidates
    }
    for item in candidates:
        price = expected_prices.get(item.slot, limits[item.slot])
        item.bid_candidate = price <= limits[item.slot]
    ordered = sorted(
        (item for item in candidates if item.bid_candidate),
        key=lambda item: (expected_prices.get(item.slot, limits[item.slot]), item.slot),
    )
    for item in ordered:
        if need <= 0:
            break
        item.market_wh = min(item.cap_wh - item.grid_wh, need)
        need -= item.market_wh
    if session.grid_fallback:
        # the surplus-only part is never charged from the grid
        grid_need = max(0, need - session.surplus_only_wh)
        for item in reversed(slots):
            if grid_need <= 0:
                break
            extra = min(item.cap_wh - item.market_wh - item.grid_wh, grid_need)
            item.grid_wh += extra
            grid_need -= extra
            need -= extra
    entries = [*done.values()]
    for item in slots:
        energy = item.market_wh + item.grid_wh
        if energy <= 0:
            continue
        entries.append(
            EvSlotPlan(
                slot=item.slot,
                phase=item.phase,
                energy_wh=energy,
                power_w=slot_power_w(energy, item.duration_s, session.min_power_w, max_power_w),
                market_wh=item.market_wh,
                grid_wh=item.grid_wh,
                market_final=item.market_final,
            )
        )
    entries.sort(key=lambda entry: entry.slot)
    shortfall = max(0, need - session.surplus_only_wh)
    return EvSchedule(now=now, session=session, slots=tuple(entries), shortfall_wh=shortfall)


def _minimum_first(slots: list[_Slot], urgent: int, need: int) -> int:
    """Put `urgent` Wh in the earliest slots at full power, from the grid where the
    market delivers nothing there; returns the need left."""
    for item in slots:
        if urgent <= 0 or need <= 0:
            break
        urgent -= item.market_wh
        take = min(item.cap_wh - item.market_wh, urgent, need)
        if take > 0:
            item.grid_wh = take
            urgent -= take
            need -= take
    return need


def _delivered(
    now: int, terms: CommunityTerms, done: Mapping[int, EvSlotPlan], charged_wh: int | None
) -> int:
    """Energy counted as in the car: the frozen plans, or what the charger measured
    plus the rest of the plan of the slot under way."""
    if charged_wh is None:
        return sum(entry.energy_wh for entry in done.values())
    running = terms.slot_of(now)
    under_way = done.get(running)
    rest = 0
    if under_way is not None:
        rest = under_way.energy_wh * (running + terms.slot_s - now) // terms.slot_s
    return check_non_negative("charged_wh", charged_wh) + rest


def _future_slots(
    now: int,
    session: EvSession,
    terms: CommunityTerms,
    max_power_w: int,
    done: Mapping[int, EvSlotPlan],
    locked_market: Mapping[int, tuple[int, bool]],
) -> list[_Slot]:
    slot_s = terms.slot_s
    full_cap = energy_wh(max_power_w, slot_s)
    slots: list[_Slot] = []
    running = terms.slot_of(now)
    if running not in done and running + slot_s <= session.departure:
        # A slot already under way can still charge from the grid for its rest.
        rest = running + slot_s - now
        slots.append(_Slot(running, SlotPhase.STARTED, rest, energy_wh(max_power_w, rest)))
    slot = running + slot_s
    while slot + slot_s <= session.departure:
        if terms.is_open(slot, now):
            slots.append(_Slot(slot, SlotPhase.OPEN, slot_s, full_cap))
        else:
            market, final = locked_market.get(slot, (0, False))
            market = min(market, full_cap)
            slots.append(_Slot(slot, SlotPhase.LOCKED, slot_s, full_cap, market, final))
        slot += slot_s
    return slots
