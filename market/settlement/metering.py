"""From a meter's samples to one reading per slot: energy imported and exported (Wh), or
why the slot has none (docs/settlement.md, "Readings").

Two sources, in order of preference:
- cumulative indexes (the Linky's EAST/EAIT or historic indexes, an HA energy sensor):
  a slot's energy is the index at its end minus the index at its start, each boundary
  taken from the first sample at or after it if that sample came within
  `boundary_tolerance_s` (a silence inside the slot does not matter: the index counted
  on);
- power samples (W), only when no index exists: the slot's energy integrates the
  samples (each held until the next), and the reading is flagged estimated.

A slot gets no reading (`Gap`) rather than an invented one when the meter was silent
at one of its boundaries (or, for power, for long inside it), when an index went down
(a reset or a new meter: the slot is not measured) or jumped above what the connection
can carry in a slot.
Nothing here is ever negative. Energy across a gap is not attributed to any slot: it is
the grid's, as with no reading at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from ..units import SECONDS_PER_HOUR, energy_wh

# A Linky sends a frame every 1-2 s (historic) or ~2 s (standard); HA sensors at least
# every few minutes while the value changes.
DEFAULT_BOUNDARY_TOLERANCE_S = 120
# An index may run ahead of the power limit a little (its rounding, a short overload).
JUMP_MARGIN_PERCENT = 150


class GapReason(StrEnum):
    """Why a slot has no reading."""

    SILENT = "silent"  # no sample close enough to a boundary, or a hole in the slot
    RESET = "reset"  # an index went down
    JUMP = "jump"  # more energy than the connection can carry in the slot


@dataclass(frozen=True, slots=True)
class SlotReading:
    """What the meter measured over the slot starting at `slot` (Unix s)."""

    slot: int
    import_wh: int
    export_wh: int
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Gap:
    """A slot without a reading, and why."""

    slot: int
    reason: GapReason


MeterOutcome = SlotReading | Gap


@dataclass(frozen=True, slots=True)
class _Boundary:
    at: int
    import_wh: int
    export_wh: int


class SlotMeter:
    """Cuts a meter's samples into slot readings; feed samples in time order.

    `max_import_w` / `max_export_w` bound what a slot can hold (the subscribed power,
    the inverter): an index delta above it by more than the margin is a jump.
    """

    def __init__(
        self,
        slot_s: int,
        *,
        max_import_w: int,
        max_export_w: int,
        boundary_tolerance_s: int = DEFAULT_BOUNDARY_TOLERANCE_S,
    ) -> None:
        if slot_s <= 0 or boundary_tolerance_s <= 0:
            raise ValueError("slot_s and boundary_tolerance_s must be > 0")
        self.slot_s = slot_s
        self.tolerance_s = boundary_tolerance_s
        self._max_wh = (
            energy_wh(max_import_w, slot_s) * JUMP_MARGIN_PERCENT // 100,
            energy_wh(max_export_w, slot_s) * JUMP_MARGIN_PERCENT // 100,
        )
        self._last_at: int | None = None
        self._last_index: tuple[int, int] | None = None
        self._boundary: _Boundary | None = None
        self._reset = False  # an index went down since the last boundary
        # power integration: (slot, watt-seconds in, watt-seconds out, covered seconds)
        self._power: tuple[int, int, int, int] | None = None
        self._last_power: tuple[int, int, int] | None = None  # (at, import_w, export_w)

    # ------------------------------------------------------------------ indexes

    def add_index(self, at: int, import_wh: int, export_wh: int = 0) -> list[MeterOutcome]:
        """A cumulative index sample at Unix time `at` (export 0 for a meter that
        counts none); returns the slots it completed, oldest first.

        A silence inside a slot does not matter (the index counted on); only its
        boundaries must be heard.
        """
        if self._last_at is not None and at < self._last_at:
            return []  # out of order: the boundary it could have set already stands
        previous_at, self._last_at = self._last_at, at
        previous, self._last_index = self._last_index, (import_wh, export_wh)
        if previous is not None and (import_wh < previous[0] or export_wh < previous[1]):
            self._reset = True
        boundary = at - at % self.slot_s
        if previous_at is not None and previous_at >= boundary:
            return []  # not the first sample of this slot
        start = self._boundary
        self._boundary = None
        outcomes: list[MeterOutcome] = []
        if at - boundary <= self.tolerance_s:
            end = _Boundary(boundary, import_wh, export_wh)
            if start is not None and end.at - start.at == self.slot_s:
                outcomes.append(self._reading(start, end))
                start = None
            self._boundary = end
        if start is not None:
            # The slots from the last boundary heard up to this one cannot be split.
            outcomes.extend(self._gaps(start.at, boundary))
        self._reset = False
        return outcomes

    def _reading(self, start: _Boundary, end: _Boundary) -> MeterOutcome:
        used = end.import_wh - start.import_wh
        made = end.export_wh - start.export_wh
        if self._reset or used < 0 or made < 0:
            return Gap(start.at, GapReason.RESET)
        if used > self._max_wh[0] or made > self._max_wh[1]:
            return Gap(start.at, GapReason.JUMP)
        return SlotReading(start.at, used, made)

    def _gaps(self, first: int, end: int) -> Iterator[Gap]:
        for slot in range(first, end, self.slot_s):
            yield Gap(slot, GapReason.SILENT)

    # ------------------------------------------------------------------ power

    def add_power(self, at: int, import_w: int, export_w: int = 0) -> list[MeterOutcome]:
        """A power sample (W) at `at`, for a household without an energy index: each
        sample holds until the next one; a slot heard throughout gets an estimated
        reading, one with a hole longer than the tolerance a gap."""
        import_w, export_w = max(0, import_w), max(0, export_w)
        last, self._last_power = self._last_power, (at, import_w, export_w)
        if last is None or at <= last[0]:
            return []
        outcomes: list[MeterOutcome] = []
        held = at - last[0] <= self.tolerance_s
        t = last[0]
        while t < at:
            slot = t - t % self.slot_s
            until = min(at, slot + self.slot_s)
            if self._power is None or self._power[0] != slot:
                self._power = (slot, 0, 0, 0)
            _, used, made, covered = self._power
            if held:
                seconds = until - t
                used, made = used + last[1] * seconds, made + last[2] * seconds
                covered += seconds
            self._power = (slot, used, made, covered)
            if until == slot + self.slot_s:
                outcomes.append(self._estimate(slot, used, made, covered))
                self._power = None
            t = until
        return outcomes

    def _estimate(self, slot: int, used: int, made: int, covered: int) -> MeterOutcome:
        if covered < self.slot_s - self.tolerance_s:
            return Gap(slot, GapReason.SILENT)
        # Scaled up to the whole slot when a few seconds at a boundary were not heard.
        return SlotReading(
            slot,
            used * self.slot_s // covered // SECONDS_PER_HOUR,
            made * self.slot_s // covered // SECONDS_PER_HOUR,
            estimated=True,
        )
