"""The serial reader over real transports: TCP on 127.0.0.1 and a pseudo-terminal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import serial
from serial import rfc2217

from market.meter.errors import InvalidBaudrateError, InvalidPortError, NoFrameError
from market.meter.frame import Frame, Mode
from market.meter.reader import TicReader, read_one_frame
from market.meter.serial_link import Framing, Link, check_port
from market.meter.simulator import MeterSimulator, SimulatorConfig, run_simulator
from market.meter.sinks import PtySink, TcpSink
from market.meter.snapshot import MeterSnapshot, ReaderState
from tests.market.meter_lines import UartAtSpeed

START = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polls state the reader task changes
            await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Feed:
    """A simulated meter serving frames every 20 ms on a TCP port."""

    def __init__(self, mode: Mode = Mode.STANDARD) -> None:
        self.sink = TcpSink()
        self.simulator = MeterSimulator(SimulatorConfig(mode=mode), START)
        self.task: asyncio.Task[int] | None = None

    async def start(self, port: int = 0) -> str:
        await self.sink.start("127.0.0.1", port)
        self.task = asyncio.create_task(run_simulator(self.simulator, self.sink, period_s=0.02))
        return f"socket://127.0.0.1:{self.sink.port}"

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task
        await self.sink.close()


@pytest.fixture
async def feed() -> AsyncIterator[Feed]:
    f = Feed()
    yield f
    await f.stop()


class Recorder:
    def __init__(self) -> None:
        self.snapshots: list[MeterSnapshot] = []

    def __call__(self, snapshot: MeterSnapshot) -> None:
        self.snapshots.append(snapshot)

    @property
    def states(self) -> list[ReaderState]:
        out: list[ReaderState] = []
        for s in self.snapshots:
            if not out or out[-1] is not s.status.state:
                out.append(s.status.state)
        return out

    @property
    def frames(self) -> int:
        return sum(s.frame is not None for s in self.snapshots)


async def test_reader_reconnects_when_the_tcp_line_drops(feed: Feed) -> None:
    url = await feed.start()
    reader = TicReader(
        url, baudrate=9600, silence_timeout=2.0, backoff_initial=0.05, backoff_max=0.2
    )
    rec = Recorder()
    reader.add_listener(rec)
    await reader.start()
    try:
        await wait_until(lambda: rec.frames >= 3)
        assert reader.status.state is ReaderState.CONNECTED
        assert reader.meter is not None and reader.meter.import_wh is not None
        feed.sink.drop_clients()
        await wait_until(lambda: ReaderState.RECONNECTING in rec.states)
        assert reader.status.last_error is not None
        before = rec.frames
        await wait_until(lambda: rec.frames >= before + 3)
        assert reader.status.state is ReaderState.CONNECTED
        assert reader.status.reconnects >= 1
        assert rec.states[:4] == [
            ReaderState.CONNECTING,
            ReaderState.CONNECTED,
            ReaderState.RECONNECTING,
            ReaderState.CONNECTED,
        ]
    finally:
        await reader.stop()
    final = rec.snapshots[-1]
    assert final.status.state is ReaderState.STOPPED
    assert final.available is False


async def test_silent_line_is_dropped_and_reopened() -> None:
    opened = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader = TicReader(
        f"socket://127.0.0.1:{port}",
        baudrate=9600,
        silence_timeout=0.2,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    await reader.start()
    try:
        await wait_until(lambda: opened >= 2)
        assert reader.status.state is ReaderState.RECONNECTING
        assert "no valid frame" in (reader.status.last_error or "")
    finally:
        await reader.stop()
        server.close()
        await server.wait_closed()


async def test_dongle_appearing_later_is_picked_up() -> None:
    port = free_port()
    reader = TicReader(
        f"socket://127.0.0.1:{port}", baudrate=9600, backoff_initial=0.05, backoff_max=0.2
    )
    await reader.start()
    feed = Feed()
    try:
        await wait_until(lambda: reader.status.last_error is not None)
        assert reader.status.state in (ReaderState.CONNECTING, ReaderState.RECONNECTING)
        await feed.start(port)
        await wait_until(lambda: reader.status.state is ReaderState.CONNECTED)
        assert reader.status.last_error is None
    finally:
        await reader.stop()
        await feed.stop()


async def test_frames_iterator_and_read_one_frame(feed: Feed) -> None:
    url = await feed.start()
    frame = await read_one_frame(url, baudrate=9600, wait_s=5)
    assert frame.mode is Mode.STANDARD
    reader = TicReader(url, baudrate=9600, backoff_initial=0.05, backoff_max=0.2)
    await reader.start()
    got: list[Frame] = []
    async for f in reader.frames():
        got.append(f)
        if len(got) == 3:
            break
    await reader.stop()
    assert [int(f.get("EAST") or 0) for f in got] == sorted(int(f.get("EAST") or 0) for f in got)


async def test_read_one_frame_times_out_on_a_silent_port() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(NoFrameError) as err:
            await read_one_frame(f"socket://127.0.0.1:{port}", baudrate=9600, wait_s=0.3)
        assert err.value.timeout == 0.3
    finally:
        server.close()
        await server.wait_closed()


async def test_a_failing_listener_does_not_stop_the_reader(
    feed: Feed, caplog: pytest.LogCaptureFixture
) -> None:
    url = await feed.start()
    reader = TicReader(url, baudrate=9600, backoff_initial=0.05, backoff_max=0.2)

    def broken(_snapshot: MeterSnapshot) -> None:
        raise RuntimeError("listener bug")

    rec = Recorder()
    reader.add_listener(broken)
    remove = reader.add_listener(rec)
    with caplog.at_level(logging.ERROR):
        await reader.start()
        try:
            await wait_until(lambda: rec.frames >= 3)
            remove()
            seen = rec.frames
            await asyncio.sleep(0.1)
            assert rec.frames == seen
            assert reader.status.state is ReaderState.CONNECTED
        finally:
            await reader.stop()
    # Counted on every snapshot, logged once (not on each frame: one a second).
    assert reader.listener_stats["listener_faults"] >= 3
    assert len([r for r in caplog.records if "listener" in r.getMessage()]) == 1


async def test_pty_end_to_end_and_unplug() -> None:
    pty = PtySink()
    simulator = MeterSimulator(SimulatorConfig(mode=Mode.HISTORIC), START)
    reader = TicReader(
        pty.path, baudrate=1200, mode=Mode.HISTORIC, backoff_initial=0.05, backoff_max=0.2
    )
    rec = Recorder()
    reader.add_listener(rec)
    await reader.start()
    feeding = asyncio.create_task(run_simulator(simulator, pty, period_s=0.02))
    try:
        await wait_until(lambda: rec.frames >= 3)
        assert reader.meter is not None
        assert reader.meter.mode is Mode.HISTORIC
        last = rec.snapshots[-1].frame
        assert last is not None
        assert reader.meter.import_wh == int(last.get("BASE") or 0)
        feeding.cancel()
        await pty.close()  # the dongle is unplugged
        await wait_until(lambda: reader.status.state is ReaderState.RECONNECTING)
        assert reader.status.last_error
    finally:
        feeding.cancel()
        await reader.stop()


async def test_auto_baud_rate_finds_the_speed_that_yields_frames() -> None:
    frame = MeterSimulator(SimulatorConfig(mode=Mode.HISTORIC), START).step(1.0)
    tried: list[int] = []

    async def opener(port: str, baud: int, framing: Framing) -> Link:
        tried.append(baud)
        return UartAtSpeed(frame, baud, meter_baud=1200)

    reader = TicReader(
        "/dev/ttyFAKE", silence_timeout=0.2, opener=opener, backoff_initial=0.05, backoff_max=0.2
    )
    await reader.start()
    try:
        await wait_until(lambda: reader.status.state is ReaderState.CONNECTED)
        assert tried[:2] == [9600, 1200]
        assert reader.status.baudrate == 1200
    finally:
        await reader.stop()


def test_configuration_errors_name_the_bad_value() -> None:
    with pytest.raises(InvalidPortError) as port_err:
        TicReader("ttyUSB0")
    assert port_err.value.port == "ttyUSB0"
    with pytest.raises(InvalidBaudrateError) as baud_err:
        TicReader("/dev/ttyUSB0", baudrate=4800)
    assert baud_err.value.baudrate == 4800
    assert check_port("socket://192.168.1.20:3333") == "socket://192.168.1.20:3333"
    assert check_port("rfc2217://ser2net.local:2001") == "rfc2217://ser2net.local:2001"
    assert check_port("/dev/serial/by-id/usb-FTDI-if00-port0")
    with pytest.raises(InvalidPortError):
        check_port("http://example.org:80")


class _Connection:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def write(self, data: bytes) -> None:
        self.conn.sendall(data)


def _rfc2217_server(listener: socket.socket, stop: threading.Event, frames_per_client: int) -> None:
    """A ser2net-like RFC 2217 server; each client gets a few frames, then is dropped."""
    simulator = MeterSimulator(SimulatorConfig(mode=Mode.HISTORIC), START)
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue

        # The stubs type both arguments too narrowly: any serial port, any writer will do.
        manager = rfc2217.PortManager(
            serial.serial_for_url("loop://"),  # type: ignore[arg-type]
            _Connection(conn),  # type: ignore[arg-type]
        )
        conn.settimeout(0.02)
        sent = 0
        while sent < frames_per_client and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                data = conn.recv(1024)
                if not data:
                    break
                b"".join(manager.filter(data))  # answer the client's negotiation
            conn.sendall(b"".join(manager.escape(simulator.step(1.0))))
            sent += 1
        conn.close()


# pyserial's RFC 2217 client calls the deprecated Thread.setName.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_rfc2217_url_reads_and_reconnects() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()
    thread = threading.Thread(target=_rfc2217_server, args=(listener, stop, 40), daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    reader = TicReader(f"rfc2217://127.0.0.1:{port}", baudrate=1200, backoff_initial=0.05)
    rec = Recorder()
    reader.add_listener(rec)
    try:
        frame = await reader.wait_for_frame(10)
        assert frame.mode is Mode.HISTORIC
        await wait_until(lambda: reader.status.reconnects >= 1, within=10)
        before = rec.frames
        await wait_until(lambda: rec.frames > before, within=10)
        assert reader.status.state is ReaderState.CONNECTED
    finally:
        await reader.stop()
        stop.set()
        thread.join(5)
        listener.close()
