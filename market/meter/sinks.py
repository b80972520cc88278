"""Where simulated frames go: a pseudo-terminal, TCP clients, or a byte stream.

Like a real meter, a sink never waits for a reader: bytes nobody reads are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from typing import BinaryIO, Protocol


class Sink(Protocol):
    """A destination for frame bytes."""

    def write(self, data: bytes) -> None:
        """Send bytes without blocking; drop them if nobody can take them."""
        ...

    async def close(self) -> None:
        """Release the sink's resources."""
        ...


class PtySink:
    """A pseudo-terminal: readers open `path` as they would a USB dongle."""

    def __init__(self) -> None:
        """Open a raw pty pair; keep the slave open so the master never sees EIO."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)

    def write(self, data: bytes) -> None:
        """Write to the master side; a full pty buffer drops the frame."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._master, data)

    async def close(self) -> None:
        """Close both ends."""
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpSink:
    """A TCP server (ser2net style, `socket://host:port`) that sends to every client."""

    def __init__(self) -> None:
        """Create the sink; `start()` listens."""
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0 picks a free one, then found in `self.port`)."""
        self._server = await asyncio.start_server(self._accept, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            await reader.read()  # returns when the client goes away
        finally:
            self._clients.discard(writer)
            writer.close()

    @property
    def clients(self) -> int:
        """Number of connected clients."""
        return len(self._clients)

    def drop_clients(self) -> None:
        """Close every client connection, as a ser2net restart or unplugged dongle would."""
        for writer in list(self._clients):
            writer.close()
        self._clients.clear()

    def write(self, data: bytes) -> None:
        """Send to every client whose buffer is not backed up."""
        for writer in list(self._clients):
            if writer.transport.get_write_buffer_size() < 65536:
                writer.write(data)

    async def close(self) -> None:
        """Stop listening and drop clients."""
        self.drop_clients()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class StreamSink:
    """A binary file, such as stdout."""

    def __init__(self, stream: BinaryIO) -> None:
        """Write to `stream`."""
        self._stream = stream

    def write(self, data: bytes) -> None:
        """Write and flush."""
        self._stream.write(data)
        self._stream.flush()

    async def close(self) -> None:
        """Flush the stream (it is not ours to close)."""
        self._stream.flush()
