"""What a node's log says when its meter or a peer goes and comes back: one line per
change, at info level, however many retries happen in between."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from market.meter.frame import Mode
from market.meter.reader import TicReader
from market.meter.serial_link import Framing, Link
from market.meter.simulator import MeterSimulator, SimulatorConfig, run_simulator
from market.meter.sinks import TcpSink
from market.meter.snapshot import ReaderState
from market.node import ManualClock, PeerDown, PeerUp
from tests.market.meter_lines import UartAtSpeed
from tests.market.node_harness import (
    T0,
    Household,
    make_community,
    mesh,
    start_household,
    wait_until,
)

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
READER_LOG = "market.meter.reader"
NODE_LOG = "market.node.node"
PEERING_LOG = "market.node.peering"


def info_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """What a user running at the default level (info) reads from `logger`."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == logger and record.levelno >= logging.INFO
    ]


class Dongle:
    """A simulated Linky behind ser2net (socket://127.0.0.1:PORT), unpluggable."""

    def __init__(self) -> None:
        self.sink = TcpSink()
        self.simulator = MeterSimulator(SimulatorConfig(mode=Mode.STANDARD), START)
        self.port = 0
        self.task: asyncio.Task[int] | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    async def plug(self, *, sending: bool = True) -> None:
        """Listen again on the same port; a meter that is not `sending` stays silent."""
        self.sink = TcpSink()
        await self.sink.start("127.0.0.1", self.port)
        self.port = self.sink.port
        if sending:
            self.send()

    def send(self) -> None:
        self.task = asyncio.create_task(run_simulator(self.simulator, self.sink, period_s=0.02))

    async def unplug(self) -> None:
        await self.mute()
        await self.sink.close()

    async def mute(self) -> None:
        """The meter stops sending; the line stays open."""
        if self.task is not None:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task
            self.task = None


@pytest.fixture
async def dongle() -> AsyncIterator[Dongle]:
    plugged = Dongle()
    await plugged.plug()
    yield plugged
    await plugged.unplug()


def fast_reader(port: str, **kwargs: object) -> TicReader:
    return TicReader(
        port,
        silence_timeout=0.2,
        backoff_initial=0.01,
        backoff_max=0.02,
        **kwargs,  # type: ignore[arg-type]
    )


async def retries(reader: TicReader, count: int) -> None:
    """Wait until the reader has tried to reconnect `count` more times."""
    first = reader.status.reconnects
    await wait_until(lambda: reader.status.reconnects >= first + count)


def connected(reader: TicReader) -> Callable[[], bool]:
    return lambda: reader.status.state is ReaderState.CONNECTED


async def test_an_unplugged_dongle_is_logged_once_and_its_return_once(
    dongle: Dongle, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=READER_LOG)
    reader = fast_reader(dongle.url)
    await reader.start()
    try:
        await wait_until(connected(reader))
        assert info_lines(caplog, READER_LOG) == []  # reading as expected is no news

        for _ in range(2):
            await dongle.unplug()  # ser2net gone: every retry is refused
            await retries(reader, 5)
            await dongle.plug()
            await wait_until(connected(reader))
    finally:
        await reader.stop()

    lines = info_lines(caplog, READER_LOG)
    assert len(lines) == 4, lines
    for lost, back in (lines[0:2], lines[2:4]):
        assert lost.startswith(f"TIC port {dongle.url}: no meter readings (")
        assert lost.endswith("); retrying in the background")
        assert back == f"TIC port {dongle.url}: meter readings are back (9600 baud)"


async def test_a_silent_meter_at_either_speed_is_one_outage(
    dongle: Dongle, caplog: pytest.LogCaptureFixture
) -> None:
    """With the speed on auto, each retry fails with another message (9600 then 1200
    baud): the outage is still logged once."""
    caplog.set_level(logging.DEBUG, logger=READER_LOG)
    reader = fast_reader(dongle.url, baudrate="auto")
    await reader.start()
    try:
        await wait_until(connected(reader))
        await dongle.mute()
        await retries(reader, 3)
        debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
        assert any("at 9600 baud" in line for line in debug)
        assert any("at 1200 baud" in line for line in debug)
        dongle.send()
        await wait_until(connected(reader))
    finally:
        await reader.stop()

    lost, back = info_lines(caplog, READER_LOG)
    assert lost.startswith(f"TIC port {dongle.url}: no meter readings (_LineLostError: no valid")
    assert back.startswith(f"TIC port {dongle.url}: meter readings are back (")


async def test_a_dongle_missing_at_start_is_logged_once_then_found(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=READER_LOG)
    later = Dongle()
    await later.plug(sending=False)
    port = later.port
    await later.unplug()  # a free port nothing listens on, for now
    reader = fast_reader(f"socket://127.0.0.1:{port}")
    await reader.start()
    try:
        await retries(reader, 5)
        assert len(info_lines(caplog, READER_LOG)) == 1
        later.port = port
        await later.plug()
        await wait_until(connected(reader))
    finally:
        await reader.stop()
        await later.unplug()
    lost, back = info_lines(caplog, READER_LOG)
    assert "ConnectionRefusedError" in lost
    assert back.endswith("meter readings are back (9600 baud)")


async def test_finding_the_speed_of_a_historic_meter_is_not_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the speed on auto the reader tries 9600 baud first: a historic meter (1200
    baud) answers only at the second try, which the log does not call an outage."""
    caplog.set_level(logging.DEBUG, logger=READER_LOG)
    frame = MeterSimulator(SimulatorConfig(mode=Mode.HISTORIC), START).step(1.0)

    async def opener(_port: str, baud: int, _framing: Framing) -> Link:
        return UartAtSpeed(frame, baud, meter_baud=1200)

    reader = fast_reader("/dev/ttyUSB0", baudrate="auto", opener=opener)
    await reader.start()
    try:
        await wait_until(connected(reader))
    finally:
        await reader.stop()
    assert reader.status.baudrate == 1200
    assert info_lines(caplog, READER_LOG) == []


# ---------------------------------------------------------------- peers


async def test_a_peer_lost_and_found_again_is_logged_once_each_time(
    tmp_path: Path, running: list[Household], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="market")
    clock = ManualClock(T0 * 1000)
    dirs, _ = make_community(tmp_path, 2)
    running.extend([await start_household(data, clock) for data in dirs])
    mesh(running)
    house, neighbour = running
    port = neighbour.node.port
    url = f"http://{neighbour.node.address}"
    me = house.node.identity.node_id
    await wait_until(lambda: len(house.of_type(PeerUp)) == 1)

    running.remove(neighbour)
    await neighbour.node.stop()
    await wait_until(lambda: len(house.of_type(PeerDown)) == 1, 15)
    failures = house.node.gossip.stats["sync_failures"] + house.node.gossip.stats["push_failures"]
    # Gossip keeps trying the lost peer (in backoff); the log does not repeat itself.
    await wait_until(
        lambda: (
            house.node.gossip.stats["sync_failures"] + house.node.gossip.stats["push_failures"]
            >= failures + 3
        ),
        15,
    )
    back = await start_household(dirs[1], clock, port=port)
    running.append(back)
    await wait_until(lambda: len(house.of_type(PeerUp)) == 2, 15)

    mine = [line for line in info_lines(caplog, PEERING_LOG) if line.startswith(f"node {me}: peer")]
    assert mine == [
        f"node {me}: peer {url} is reachable",
        f"node {me}: peer {url} is lost; retrying in the background",
        f"node {me}: peer {url} is reachable",
    ]
