"""The node signs one reading per slot its meter measured, and every neighbour holds it
(issue #16, point 1): measured once both boundaries were heard, never twice, never
invented when the meter was silent."""

from __future__ import annotations

from pathlib import Path

from market.ledger import Kind, ReadingBody
from tests.market.node_harness import (
    T0,
    Household,
    advance,
    start_household,
    start_neighbourhood,
    wait_until,
)


async def _readings(house: Household, author: bytes) -> list[ReadingBody]:
    entries = await house.node.ledger.entries(author=author, kind=Kind.READING)
    return [ReadingBody.decode(entry.body) for entry in entries]


async def test_a_measured_slot_is_signed_once_and_reaches_the_neighbours(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, dirs, _ = await start_neighbourhood(tmp_path, running, 2)
    house, neighbour = running
    key = house.node.identity.public_key
    # A Linky heard every few seconds: EAST rises 1.2 kWh and EAIT 0.3 kWh over the slot.
    samples = [(T0 + 900 + t, 50_000 + t * 4 // 3, 7000 + t // 3) for t in range(0, 901, 3)]
    samples.append((T0 + 1801, 51_201, 7301))
    for at, imported, exported in samples:
        if at > clock.now_ms() // 1000:
            await advance(clock, running, at)
        house.node.record_meter_index(at, import_wh=imported, export_wh=exported)
    await wait_until(lambda: house.node.status().counters["readings_signed"] == 1)
    await advance(clock, running, T0 + 1830)
    expected = [ReadingBody(T0 + 900, 1200, 300)]
    assert await _readings(house, key) == expected
    held = house.node.entries_held
    await wait_until(lambda: neighbour.node.entries_held >= held)
    assert await _readings(neighbour, key) == expected

    # The same boundary heard again (a meter reconnected) never signs the slot twice,
    # not even after a restart.
    house.node.record_meter_index(T0 + 1802, import_wh=51_202, export_wh=7301)
    await house.node.stop()
    running.remove(house)
    again = await start_household(dirs[0], clock)
    running.append(again)
    again.node.record_meter_index(T0 + 900 + 2, import_wh=50_002, export_wh=7000)
    again.node.record_meter_index(T0 + 1801, import_wh=51_201, export_wh=7301)
    # The next slot is new: signed after the first (readings are signed in order).
    await advance(clock, running, T0 + 2701)
    again.node.record_meter_index(T0 + 2701, import_wh=51_900, export_wh=7301)
    await wait_until(lambda: again.node.status().counters["readings_signed"] == 1)
    assert await _readings(again, key) == [*expected, ReadingBody(T0 + 1800, 699, 0)]


async def test_a_silent_meter_gives_a_counted_gap_not_a_reading(
    tmp_path: Path, running: list[Household]
) -> None:
    clock, _dirs, _ = await start_neighbourhood(tmp_path, running, 1)
    (house,) = running
    await advance(clock, running, T0 + 905)
    house.node.record_meter_index(T0 + 905, import_wh=1000, export_wh=0)
    await advance(clock, running, T0 + 2000)  # unplugged over the next boundary
    house.node.record_meter_index(T0 + 2000, import_wh=1500, export_wh=0)
    counters = house.node.status().counters
    assert counters["reading_gaps_silent"] == 1
    assert counters["readings_signed"] == 0
    assert await _readings(house, house.node.identity.public_key) == []
