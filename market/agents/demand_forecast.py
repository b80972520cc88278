"""The household's expected grid import per slot, learned from its own slot readings.

A household without steerable loads still draws its base load (the fridge, cooking,
the evening's lights and screens) at much the same times of the day, and differently
on weekends. Its node signs one reading per slot; this table learns from them what the
coming slots will draw, so that the consumption buyer can bid for it ahead.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from ..localtime import PARIS, SECONDS_PER_DAY, day_from_number, local_seconds
from .errors import InvalidAgentInputError
from .limits import check_int, check_non_negative

WEEK_S = 7 * SECONDS_PER_DAY
_WEEKDAYS = 5
_WEEKEND_DAYS = 2


class InvalidForecastSettingError(InvalidAgentInputError):
    """A demand forecaster's slot length or depth is not positive."""

    rule = "must be > 0"


def _lower_median(values: list[int]) -> int:
    # An observed value, never above the largest nor below the smallest: the lower
    # middle, so an even count leans to buying less (a buyer is allocated no more than
    # it imports: an unused purchase only takes a neighbour's chance).
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


class DemandForecaster:
    """Expected grid import (Wh) of a slot, by local time of day and kind of day.

    The table has one cell per slot of the local day (`zone`, Europe/Paris by default)
    and kind of day (Monday to Friday, or the weekend). A cell keeps the import of that
    slot on the last `weeks` weeks' days of its kind (5 x weeks weekdays, 2 x weeks
    weekend days), the newest kept; `recent_s` more keep the last hours' readings. So
    memory is bounded (at most 7 x weeks x slots per day values, plus the last hours),
    and integers only.

    `expected_wh(slot)` is the lower median of, in this order, the first that has values:

    1. the same slot of day on days of the same kind (within the last `weeks` weeks);
    2. the same slot of day on days of the other kind: a new household's first Saturday
       evening is guessed from its weekday evenings;
    3. the readings of the `recent_s` seconds before the slot: in its first day, a
       household's last hours persist;
    4. nothing (None): a household with no reading yet bids nothing.

    Only readings of slots before the asked one count. A reading is learned once per
    slot (a second one for the same slot is ignored), so the forecast does not depend on
    the order the readings were learned in.
    """

    def __init__(
        self, slot_s: int, *, weeks: int = 4, recent_s: int = 7200, zone: str = PARIS
    ) -> None:
        for name, value in (("slot_s", slot_s), ("weeks", weeks)):
            if check_int(name, value) <= 0:
                raise InvalidForecastSettingError(name, value)
        self.slot_s = slot_s
        self.weeks = weeks
        self.recent_s = check_non_negative("recent_s", recent_s)
        self.zone = zone
        # per (weekend, slot of day): (slot, import_wh), sorted by slot
        self._cells: dict[tuple[bool, int], list[tuple[int, int]]] = {}
        self._recent: list[tuple[int, int]] = []

    def __len__(self) -> int:
        """How many readings the table holds (bounded, however long it learns)."""
        return sum(len(cell) for cell in self._cells.values()) + len(self._recent)

    @property
    def history_slots(self) -> int:
        """How many of the latest readings the table can use (`weeks` weeks of slots)."""
        return self.weeks * WEEK_S // self.slot_s

    def _cell(self, slot: int) -> tuple[bool, int]:
        local = local_seconds(slot, self.zone)
        weekend = day_from_number(local // SECONDS_PER_DAY).weekday() >= _WEEKDAYS
        return weekend, local % SECONDS_PER_DAY // self.slot_s

    def learn(self, slot: int, import_wh: int) -> None:
        """The import the household's meter measured over the slot starting at `slot`."""
        check_int("slot", slot)
        check_non_negative("import_wh", import_wh)
        weekend, index = self._cell(slot)
        days = _WEEKEND_DAYS if weekend else _WEEKDAYS
        _keep_newest(
            self._cells.setdefault((weekend, index), []), slot, import_wh, days * self.weeks
        )
        _keep_newest(self._recent, slot, import_wh, max(1, self.recent_s // self.slot_s))

    def expected_wh(self, slot: int) -> int | None:
        """The import expected over the slot starting at `slot` (None: no guess yet)."""
        check_int("slot", slot)
        weekend, index = self._cell(slot)
        since = slot - self.weeks * WEEK_S
        for kind in (weekend, not weekend):
            cell = self._cells.get((kind, index), ())
            values = [wh for at, wh in cell if since <= at < slot]
            if values:
                return _lower_median(values)
        recent = [wh for at, wh in self._recent if slot - self.recent_s <= at < slot]
        return _lower_median(recent) if recent else None

    def forecast(self, slots: Iterable[int]) -> dict[int, int]:
        """`expected_wh` of each slot that has a guess."""
        found = {slot: self.expected_wh(slot) for slot in slots}
        return {slot: wh for slot, wh in found.items() if wh is not None}


def _keep_newest(values: list[tuple[int, int]], slot: int, wh: int, size: int) -> None:
    """Insert (slot, wh) into `values` (sorted by slot, one per slot), keeping the
    `size` newest."""
    at = bisect.bisect_left(values, slot, key=lambda value: value[0])
    if at < len(values) and values[at][0] == slot:
        return
    values.insert(at, (slot, wh))
    if len(values) > size:
        del values[0]
