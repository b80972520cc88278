"""A TCP relay that makes a link bad: every chunk is delayed, some connections are reset
midway, a few bytes are flipped. netem is not available here (no `sch_netem`), and a
relay in userspace works the same on any kernel, with or without root.

It knows nothing of HTTP or of the gossip: it damages bytes, which is all a bad LAN
(or an attacker on it) can do to a transport."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass


@dataclass
class Damage:
    """How bad the link is; a test may change it while the relay runs."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    reset_rate: float = 0.0  # share of connections reset after a random number of bytes
    reset_within: int = 64 * 1024  # ... at most this many bytes in
    flip_rate: float = 0.0  # share of chunks with one byte flipped


class Relay:
    """Listens on (host, port 0) and forwards to `target` ("host:port", settable later)."""

    def __init__(self, host: str, damage: Damage, seed: int) -> None:
        self.host = host
        self.damage = damage
        self.target: tuple[str, int] | None = None
        self.port = 0
        self.counts = {"connections": 0, "resets": 0, "flips": 0}
        self._random = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.counts["connections"] += 1
        try:
            if self.target is None:
                _reset(writer)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                _reset(writer)
                return
            budget = None
            if self._random.random() < self.damage.reset_rate:
                budget = [self._random.randrange(self.damage.reset_within)]
            await asyncio.gather(
                self._pipe(reader, up_writer, budget, (writer, up_writer)),
                self._pipe(up_reader, writer, budget, (writer, up_writer)),
            )
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        budget: list[int] | None,
        both: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        damage = self.damage
        try:
            while chunk := await reader.read(16 * 1024):
                delay = damage.delay_s + self._random.uniform(0, damage.jitter_s)
                if delay:
                    await asyncio.sleep(delay)
                if budget is not None:
                    budget[0] -= len(chunk)
                    if budget[0] < 0:
                        self.counts["resets"] += 1
                        for side in both:
                            _reset(side)
                        return
                if self._random.random() < damage.flip_rate:
                    self.counts["flips"] += 1
                    at = self._random.randrange(len(chunk))
                    chunk = chunk[:at] + bytes([chunk[at] ^ 0x5A]) + chunk[at + 1 :]
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            for side in both:
                _reset(side)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST, as a dropped link or a crashed box does, not a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
