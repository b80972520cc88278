"""A failing turn of the node's slot clock is counted and logged once per cause, and the
market goes on (a supervised loop never dies silently)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from market.supervise import FaultLog
from tests.market.node_harness import T0, Household, run_slot, start_neighbourhood


async def test_the_slot_clock_survives_a_failing_turn(
    tmp_path: Path, running: list[Household], caplog: pytest.LogCaptureFixture
) -> None:
    clock, _dirs, _community = await start_neighbourhood(tmp_path, running, 3)
    house = running[0]
    keeper = house.node._slots
    real_judge = keeper.judge_due
    failures = {"left": 3}

    def flaky_judge(now_ms: int) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk read error")
        real_judge(now_ms)

    keeper.judge_due = flaky_judge  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="market.supervise"):
        await run_slot(clock, running, T0 + 900)
        # While it fails, the status says what fails (the repair issue in HA).
        assert house.node.status().fault == "the slot clock: OSError: disk read error"
        for slot in (T0 + 1800, T0 + 2700):
            await run_slot(clock, running, slot)
    assert house.node.status().fault is None
    # The failures were counted, logged once (one cause), and the later slots decided.
    assert house.node.status().counters["clock_faults"] == 3
    assert len([r for r in caplog.records if "slot clock failed" in r.getMessage()]) == 1
    assert house.node.outcome(T0 + 2700) is not None
    assert all(h.node.outcome(T0 + 2700) == house.node.outcome(T0 + 2700) for h in running)


def test_a_repeated_cause_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    stats: dict[str, int] = {}
    faults = FaultLog("the loop", stats, "faults", interval_s=60, clock=lambda: now[0])

    def broken(message: str) -> None:
        raise ValueError(message)

    def fail(message: str) -> None:
        try:
            broken(message)
        except ValueError as err:
            faults.failed(err)

    with caplog.at_level(logging.ERROR, logger="market.supervise"):
        for second in range(0, 130):
            now[0] = float(second)
            fail("same line, any text")
    logged = [r.getMessage() for r in caplog.records]
    assert stats["faults"] == 130
    assert logged == [
        "the loop failed; it goes on",
        "the loop failed; it goes on (59 more since it was last logged)",
        "the loop failed; it goes on (59 more since it was last logged)",
    ]
