"""The config flow's probe of a TIC port: a port that cannot be opened is told apart
from one that opens but sends no valid frame."""

from __future__ import annotations

import asyncio
import socket

import pytest

from market.meter.errors import NoFrameError, PortUnavailableError
from market.meter.reader import read_one_frame
from market.meter.sinks import PtySink


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_nothing_listening_at_the_address_is_a_port_that_cannot_be_opened() -> None:
    url = f"socket://127.0.0.1:{closed_port()}"
    with pytest.raises(PortUnavailableError) as err:
        await read_one_frame(url, baudrate="auto", wait_s=0.5)
    assert isinstance(err.value, OSError)
    assert err.value.port == url
    assert err.value.reason is not None and "ConnectionRefusedError" in err.value.reason


async def test_a_device_path_that_does_not_exist_cannot_be_opened() -> None:
    with pytest.raises(PortUnavailableError) as err:
        await read_one_frame("/dev/ttyUSB-no-such-dongle", wait_s=0.5)
    assert "could not be opened" in str(err.value)


async def test_a_tty_that_opens_but_stays_silent_has_no_frame() -> None:
    """A dongle plugged in but not wired to the meter: the port opens, nothing comes."""
    silent = PtySink()
    try:
        with pytest.raises(NoFrameError):
            await read_one_frame(silent.path, baudrate="auto", wait_s=0.5)
    finally:
        await silent.close()


async def test_a_line_that_closes_at_once_has_no_frame() -> None:
    """ser2net accepting then dropping the connection: opened, so no PortUnavailableError."""

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(NoFrameError) as err:
            await read_one_frame(f"socket://127.0.0.1:{port}", baudrate=9600, wait_s=0.5)
        assert not isinstance(err.value, PortUnavailableError)
    finally:
        server.close()
        await server.wait_closed()
