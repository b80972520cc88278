"""Slot readings from a meter's samples: measured when both boundaries were heard,
otherwise a gap with its reason; never negative, never invented."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from market.settlement.metering import Gap, GapReason, MeterOutcome, SlotMeter, SlotReading

SLOT = 900
T0 = 1_764_025_200  # a slot boundary


def meter() -> SlotMeter:
    return SlotMeter(SLOT, max_import_w=12_000, max_export_w=9_000, boundary_tolerance_s=60)


def feed(m: SlotMeter, samples: list[tuple[int, int, int]]) -> list[MeterOutcome]:
    out: list[MeterOutcome] = []
    for at, imported, exported in samples:
        out.extend(m.add_index(at, imported, exported))
    return out


def test_a_slot_is_the_index_at_its_end_minus_the_index_at_its_start() -> None:
    outcomes = feed(
        meter(),
        [(T0 + 2, 1000, 50), (T0 + 400, 1300, 60), (T0 + 901, 1600, 80), (T0 + 1801, 1700, 80)],
    )
    assert outcomes == [SlotReading(T0, 600, 30), SlotReading(T0 + SLOT, 100, 0)]


def test_silence_inside_a_slot_does_not_matter_but_at_a_boundary_it_does() -> None:
    # Heard at T0 and at T0+901 only: the index counted on in between.
    assert feed(meter(), [(T0 + 1, 0, 0), (T0 + 901, 500, 0)]) == [SlotReading(T0, 500, 0)]
    # First heard 200 s after the boundary of T0+900: neither slot around it is measured.
    outcomes = feed(meter(), [(T0 + 1, 0, 0), (T0 + 1100, 500, 0), (T0 + 1801, 900, 0)])
    assert outcomes == [Gap(T0, GapReason.SILENT)]
    # Unplugged for two slots: the energy over the gap goes to no slot.
    outcomes = feed(meter(), [(T0 + 1, 0, 0), (T0 + 2701, 2000, 0), (T0 + 3601, 2100, 0)])
    assert outcomes == [
        Gap(T0, GapReason.SILENT),
        Gap(T0 + SLOT, GapReason.SILENT),
        Gap(T0 + 2 * SLOT, GapReason.SILENT),
        SlotReading(T0 + 3 * SLOT, 100, 0),
    ]


def test_a_reset_or_a_jump_loses_the_slot_not_the_next() -> None:
    # A new meter (index back to 12) inside the first slot.
    outcomes = feed(
        meter(), [(T0 + 1, 5000, 0), (T0 + 300, 5100, 0), (T0 + 600, 12, 0), (T0 + 901, 40, 0)]
    )
    assert outcomes == [Gap(T0, GapReason.RESET)]
    outcomes = feed(meter(), [(T0 + 1, 5000, 0), (T0 + 901, 2, 0), (T0 + 1801, 30, 0)])
    assert outcomes == [Gap(T0, GapReason.RESET), SlotReading(T0 + SLOT, 28, 0)]
    # 12 kW for 15 min is 3 kWh; 99 kWh in a slot is a corrupted index.
    outcomes = feed(meter(), [(T0 + 1, 0, 0), (T0 + 901, 99_000, 0), (T0 + 1801, 99_100, 0)])
    assert outcomes == [Gap(T0, GapReason.JUMP), SlotReading(T0 + SLOT, 100, 0)]


def test_power_is_integrated_only_when_heard_throughout_and_flagged_estimated() -> None:
    m = meter()
    out: list[MeterOutcome] = []
    for t in range(T0, T0 + SLOT + 1, 10):
        out.extend(m.add_power(t, 2000, 0))
    assert out == [SlotReading(T0, 500, 0, estimated=True)]  # 2 kW x 15 min
    out = []
    for t in (*range(T0 + SLOT + 10, T0 + SLOT + 400, 10), T0 + 2 * SLOT + 5):
        out.extend(m.add_power(t, 1000, 300))
    assert out == [Gap(T0 + SLOT, GapReason.SILENT)]  # silent for 500 s of the slot


@st.composite
def sample_runs(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """A meter heard at random moments, its indexes rising, sometimes reset."""
    at, imported, exported = T0 + draw(st.integers(0, 200)), 10_000, 500
    samples = []
    for _ in range(draw(st.integers(1, 60))):
        at += draw(st.integers(1, 700))
        if draw(st.integers(0, 30)) == 0:
            imported, exported = draw(st.integers(0, 50)), 0
        imported += draw(st.integers(0, 2000))
        exported += draw(st.integers(0, 1500))
        samples.append((at, imported, exported))
    return samples


@settings(max_examples=300, deadline=None)
@given(sample_runs())
def test_readings_are_never_negative_invented_or_repeated(
    samples: list[tuple[int, int, int]],
) -> None:
    outcomes = feed(meter(), samples)
    slots = [outcome.slot for outcome in outcomes]
    assert slots == sorted(set(slots)), "each slot once, in order"
    index_at = {}
    for at, imported, exported in samples:
        boundary = at - at % SLOT
        if at - boundary <= 60:
            index_at.setdefault(boundary, (at, imported, exported))
    first_of_slot = {}
    for at, imported, exported in samples:
        first_of_slot.setdefault(at - at % SLOT, (at, imported, exported))
    for outcome in outcomes:
        if isinstance(outcome, SlotReading):
            assert outcome.import_wh >= 0 and outcome.export_wh >= 0
            assert not outcome.estimated
            # Exactly the index delta between the first samples after each boundary.
            start, end = first_of_slot[outcome.slot], first_of_slot[outcome.slot + SLOT]
            assert start == index_at[outcome.slot] and end == index_at[outcome.slot + SLOT]
            assert (outcome.import_wh, outcome.export_wh) == (end[1] - start[1], end[2] - start[2])
    by_slot = {outcome.slot: outcome for outcome in outcomes}
    for slot, start in index_at.items():
        end = index_at.get(slot + SLOT)
        if end is None or start != first_of_slot[slot] or end != first_of_slot[slot + SLOT]:
            continue
        inside = [s for s in samples if start[0] <= s[0] <= end[0]]
        steady = all(a[1] <= b[1] and a[2] <= b[2] for a, b in itertools.pairwise(inside))
        fits = end[1] - start[1] <= 4500 and end[2] - start[2] <= 3375
        if steady and fits:
            assert isinstance(by_slot.get(slot), SlotReading), "a measurable slot is measured"
