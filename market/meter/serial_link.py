"""The one typed door to pyserial-asyncio-fast (which ships no type hints).

`open_link` opens a device path, a `socket://host:port` or an `rfc2217://host:port`
URL for TIC (7E1 or 8N1, raw) without blocking the event loop: the library opens
ports with `serial_for_url` in the default executor and connects `socket://`
URLs with the loop's own `create_connection`. pyserial's RFC 2217 client has no
file descriptor for the loop to watch, so those URLs are opened and read in the
executor instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
from typing import Literal, Protocol

import serial
import serial_asyncio_fast

from .errors import InvalidPortError

Framing = Literal["7E1", "8N1"]
_LOGGER = logging.getLogger(__name__)
_URL = re.compile(r"(socket|rfc2217)://[^/:\s]+:\d{1,5}(/.*|\?.*)?")
_READ_SIZE = 1024


def check_port(port: str) -> str:
    """Return `port` if it is a device path or a supported URL; raise InvalidPortError."""
    if port.startswith("/") or _URL.fullmatch(port) is not None:
        return port
    if re.fullmatch(r"COM\d+", port) is not None:
        return port
    raise InvalidPortError(port)


class Link(Protocol):
    """An open byte stream from a TIC dongle."""

    async def read(self) -> bytes:
        """Return the next bytes (b"" at end of stream)."""
        ...

    async def close(self) -> None:
        """Close the stream; never raises."""
        ...


class _StreamLink:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        return await self._reader.read(_READ_SIZE)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, serial.SerialException):
            await self._writer.wait_closed()


class _ExecutorLink:
    # RFC 2217 ports: blocking reads with a short timeout, run in the executor.
    def __init__(self, port: serial.SerialBase) -> None:
        self._port = port

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        while True:
            data: bytes = await loop.run_in_executor(None, self._port.read, _READ_SIZE)
            if data:
                return data
            if not self._port.is_open:
                return b""

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError, serial.SerialException):
            await loop.run_in_executor(None, self._port.close)


# (bytesize, parity): 7E1 is what the meter sends; 8N1 dongles hand over the parity bit.
_FRAMINGS: dict[str, tuple[int, str]] = {
    "7E1": (serial.SEVENBITS, serial.PARITY_EVEN),
    "8N1": (serial.EIGHTBITS, serial.PARITY_NONE),
}


def _is_einval(err: BaseException) -> bool:
    # termios.error is not an OSError but carries (errno, message) the same way.
    return bool(err.args) and err.args[0] == errno.EINVAL


async def open_link(port: str, baudrate: int, framing: Framing = "7E1") -> Link:
    """Open a TIC port without blocking the loop; raises OSError if it cannot be opened.

    A port that refuses 7E1 (some adapters and virtual ttys cannot do 7 data bits)
    is opened 8N1 instead: the decoder masks the parity bit, and the checksums still
    catch every corrupted dataset.
    """
    check_port(port)
    try:
        return await _open(port, baudrate, framing)
    except Exception as err:
        if framing != "7E1" or not _is_einval(err):
            raise
    _LOGGER.debug("TIC port %s refuses 7E1; opening it 8N1", port)
    return await _open(port, baudrate, "8N1")


async def _open(port: str, baudrate: int, framing: Framing) -> Link:
    bytesize, parity = _FRAMINGS[framing]
    if port.startswith("rfc2217://"):
        loop = asyncio.get_running_loop()

        def _open_blocking() -> serial.SerialBase:
            return serial.serial_for_url(
                port,
                baudrate=baudrate,
                bytesize=bytesize,
                parity=parity,
                stopbits=serial.STOPBITS_ONE,
                timeout=0.5,
            )

        return _ExecutorLink(await loop.run_in_executor(None, _open_blocking))
    reader, writer = await serial_asyncio_fast.open_serial_connection(
        url=port,
        baudrate=baudrate,
        bytesize=bytesize,
        parity=parity,
        stopbits=serial.STOPBITS_ONE,
    )
    return _StreamLink(reader, writer)
