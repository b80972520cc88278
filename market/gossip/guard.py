"""Connection limits for the node's own aiohttp site (docs/protocol.md, "Limits").

aiohttp accepts every connection and waits for its request head forever: a thousand
idle sockets, or slow-loris ones, cost a node its fds and memory. `GuardedSite` listens
through `ConnectionGuard`, which closes at once (and counts) a connection over the
global or per-address cap, and closes a connection whose first request head is not
complete within `header_timeout_s`. Between requests aiohttp's keep-alive timeout
(`keepalive_timeout_s`) closes idle connections, partial heads included.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from typing import Any

from aiohttp import web

from ..logflood import FloodLog
from .config import LimitsConfig

_LOGGER = logging.getLogger(__name__)

HEAD_END = b"\r\n\r\n"
# fds kept for everything else a node opens: its store, zeroconf, connections to peers
FD_RESERVE = 256


def _fd_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class ConnectionGuard:
    """Caps and timeouts of incoming connections; `counters()` feeds the node status."""

    def __init__(self, limits: LimitsConfig | None = None) -> None:
        self.limits = limits = limits or LimitsConfig()
        self.max_connections = max(1, min(limits.max_connections, _fd_limit() - FD_RESERVE))
        self.open_by_address: Counter[str] = Counter()
        self.open = 0
        self.stats: Counter[str] = Counter()
        self._log = FloodLog(_LOGGER, limits.log_interval_s)

    def counters(self) -> dict[str, int]:
        """`connections_open` now, and the closed ones by cause."""
        return {"connections_open": self.open, **self.stats}

    def protocol(self, inner: asyncio.Protocol) -> asyncio.Protocol:
        """Wrap the protocol aiohttp made for one connection."""
        return _GuardedProtocol(self, inner)

    def admit(self, address: str) -> str | None:
        """Register a new connection; the name of the cap it exceeds, if any."""
        if self.open >= self.max_connections:
            return "connections_refused_total"
        if self.open_by_address[address] >= self.limits.max_connections_per_address:
            return "connections_refused_address"
        self.open += 1
        self.open_by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        """A registered connection closed."""
        self.open -= 1
        self.open_by_address[address] -= 1
        if self.open_by_address[address] <= 0:
            del self.open_by_address[address]

    def closed(self, cause: str, address: str) -> None:
        """Count (and log, collapsed) a connection the guard closed."""
        self.stats[cause] += 1
        self._log.log(logging.WARNING, cause, "closed a connection from %s (%s)", address, cause)


class _GuardedProtocol(asyncio.Protocol):
    """Stands between the transport and aiohttp's protocol for one connection."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._address = ""
        self._transport: asyncio.Transport | None = None
        self._admitted = False
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""  # the last bytes seen while waiting for the first head's end

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        refused = self._guard.admit(self._address)
        if refused is not None:
            self._guard.closed(refused, self._address)
            transport.abort()  # its fd is back at once; nothing reaches aiohttp
            return
        self._admitted = True
        self._transport = transport
        timeout = self._guard.limits.header_timeout_s
        self._deadline = asyncio.get_running_loop().call_later(timeout, self._head_too_slow)
        self._inner.connection_made(transport)

    def _head_too_slow(self) -> None:
        self._deadline = None
        self._guard.closed("connections_header_timeout", self._address)
        if self._transport is not None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self._deadline is not None:
            seen = self._tail + data
            if HEAD_END in seen:
                self._deadline.cancel()
                self._deadline = None
            self._tail = seen[-(len(HEAD_END) - 1) :]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._transport = None
        self._guard.release(self._address)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass a ConnectionGuard."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, guard: ConnectionGuard
    ) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard = self._guard

        def guarded() -> asyncio.Protocol:
            return guard.protocol(server())

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            guarded, self._host, self._port, backlog=self._backlog
        )


def runner_options(limits: LimitsConfig) -> dict[str, Any]:
    """aiohttp's own request-handler settings that enforce the limits."""
    return {"keepalive_timeout": limits.keepalive_timeout_s, "lingering_time": limits.lingering_s}
