"""Every long-running duty of a node survives a real fault, says so in the status while
it lasts, and clears it once the duty works again (issue #15, finding 4): a supervised
task never dies silently."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from market.agents import (
    AgentDecision,
    HouseholdLimits,
    Observation,
    PvSellerAgent,
    SlotForecast,
    SlotResult,
)
from market.node.clock import ManualClock
from market.node.datadir import PEERS_FILE
from market.node.events import PeerUp
from tests.market.node_harness import (
    T0,
    Household,
    make_community,
    mesh,
    start_household,
    wait_until,
)

LIMITS = HouseholdLimits(
    max_buy_price=1900, min_sell_price=400, max_import_w=9000, max_export_w=6000
)


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


async def test_a_peer_list_that_cannot_be_saved_is_a_fault_until_it_can(
    tmp_path: Path, running: list[Household], caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, _community = make_community(tmp_path, 2)
    in_the_way = dirs[0].path / PEERS_FILE
    in_the_way.mkdir()  # the peers file cannot be replaced: every save fails
    with caplog.at_level(logging.ERROR, logger="market.supervise"):
        running.extend([await start_household(data, clock) for data in dirs])
        mesh(running)
        house = running[0]
        await wait_until(lambda: house.node.status().counters["peer_faults"] >= 2)
    status = house.node.status()
    assert status.fault is not None
    assert status.fault.startswith("the peer watch: IsADirectoryError")
    assert len(house.of_type(PeerUp)) == 1  # the neighbour was still reported, once
    assert len(_messages(caplog, "the peer watch failed")) == 1  # logged once, then counted

    in_the_way.rmdir()  # room again: the restarted watch saves the peers and recovers
    await wait_until(lambda: house.node.status().fault is None)
    assert json.loads(in_the_way.read_text()) == [f"http://{running[1].node.address}"]
    assert len(house.of_type(PeerUp)) == 1


class _Forecasts:
    """The household's forecasts, read from a file a meter integration writes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def observe(self, now_s: int) -> Observation:
        surplus = json.loads(self.path.read_text(encoding="utf-8"))["surplus_wh"]
        first = now_s - now_s % 900
        slots = range(first, first + 8 * 900, 900)
        return Observation(
            forecast=tuple(SlotForecast(slot=s, pv_wh=surplus + 200, load_wh=200) for s in slots)
        )


async def test_readings_that_cannot_be_read_are_a_fault_until_they_can(
    tmp_path: Path, running: list[Household], caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 2)
    running.extend([await start_household(data, clock) for data in dirs])
    mesh(running)
    node = running[0].node
    forecasts = _Forecasts(tmp_path / "forecast.json")  # not written yet
    node.set_observation_source(forecasts.observe)
    node.add_agent(PvSellerAgent("pv", community.terms, LIMITS))
    with caplog.at_level(logging.ERROR, logger="market.supervise"):
        await node.run_agents_now()
        await node.run_agents_now()
    status = node.status()
    assert status.fault is not None
    assert status.fault.startswith("reading the household: FileNotFoundError")
    assert status.counters["observation_faults"] == 2
    assert len(_messages(caplog, "reading the household failed")) == 1
    assert node.open_orders() == []

    forecasts.path.write_text(json.dumps({"surplus_wh": 600}), encoding="utf-8")
    await node.run_agents_now()
    assert node.status().fault is None
    assert node.open_orders()  # the agent trades again


class _Flaky:
    """A household's own agent (a plugin) that raises until it is fixed."""

    def __init__(self, inner: PvSellerAgent) -> None:
        self.inner = inner
        self.broken = True

    @property
    def agent_id(self) -> str:
        return self.inner.agent_id

    def decide(
        self, now: int, observation: Observation, cleared: Iterable[SlotResult]
    ) -> AgentDecision:
        if self.broken:
            raise ZeroDivisionError("division by zero")
        return self.inner.decide(now, observation, cleared)


async def test_a_failing_agent_is_a_fault_and_the_other_agents_trade_on(
    tmp_path: Path, running: list[Household]
) -> None:
    clock = ManualClock(T0 * 1000)
    dirs, community = make_community(tmp_path, 2)
    running.extend([await start_household(data, clock) for data in dirs])
    node = running[0].node
    forecasts = tmp_path / "forecast.json"
    forecasts.write_text(json.dumps({"surplus_wh": 600}), encoding="utf-8")
    node.set_observation_source(_Forecasts(forecasts).observe)
    flaky = _Flaky(PvSellerAgent("custom", community.terms, LIMITS))
    node.add_agent(flaky)
    node.add_agent(PvSellerAgent("pv", community.terms, LIMITS))
    await node.run_agents_now()
    status = node.status()
    assert status.fault == "agent custom: ZeroDivisionError: division by zero"
    assert status.counters["agent_faults"] == 1
    assert {order.source for order in node.open_orders()} == {"pv"}

    flaky.broken = False
    await node.run_agents_now()
    assert node.status().fault is None
    assert {order.source for order in node.open_orders()} == {"pv", "custom"}
