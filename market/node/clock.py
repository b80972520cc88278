"""The node's clock, injectable so that a simulation can run many slots per second.

A node reads the time and waits for instants only through a `Clock`. Ledger timestamps,
gate closures and seals all follow it; the gossip transport keeps the wall clock (its
replay window protects the sockets, not the market).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

# Wall clocks can be stepped (NTP); waking at least this often lets a waiter notice.
_MAX_WALL_SLEEP_S = 5.0


class Clock(Protocol):
    """Milliseconds since the Unix epoch, and a way to wait until one."""

    def now_ms(self) -> int:
        """The current time."""
        ...

    async def sleep_until(self, t_ms: int) -> None:
        """Return once `now_ms() >= t_ms`."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now_ms(self) -> int:
        """Wall-clock milliseconds."""
        return _wall_ms()

    async def sleep_until(self, t_ms: int) -> None:
        """Sleep in bounded steps, so a clock step forwards or backwards is followed."""
        while True:
            left = t_ms - self.now_ms()
            if left <= 0:
                return
            await asyncio.sleep(min(left / 1000, _MAX_WALL_SLEEP_S))


class ScaledClock:
    """Wall time sped up `speed` times: at wall time `anchor_ms` it reads `start_ms`.

    Anchored to the wall clock (not to when it was built), so separate processes given
    the same three numbers read the same time: the demo's accelerated neighbourhood.
    """

    def __init__(self, start_ms: int, speed: float, anchor_ms: int | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0: {speed}")
        self.start_ms = start_ms
        self.speed = speed
        self.anchor_ms = _wall_ms() if anchor_ms is None else anchor_ms

    def now_ms(self) -> int:
        """Scaled milliseconds."""
        return self.start_ms + int((_wall_ms() - self.anchor_ms) * self.speed)

    async def sleep_until(self, t_ms: int) -> None:
        """Sleep the real time that `t_ms - now` takes at this speed."""
        while True:
            left = t_ms - self.now_ms()
            if left <= 0:
                return
            await asyncio.sleep(min(left / 1000 / self.speed, _MAX_WALL_SLEEP_S))

    @classmethod
    def parse(cls, text: str) -> ScaledClock:
        """From "START_S:ANCHOR_S:SPEED" (Unix seconds, Unix seconds, factor)."""
        try:
            start_s, anchor_s, speed = text.split(":")
            return cls(int(start_s) * 1000, float(speed), int(anchor_s) * 1000)
        except ValueError as err:
            raise ValueError(f"expected START_S:ANCHOR_S:SPEED, got {text!r}") from err


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to: `advance_to` wakes every waiter it passes.

    Several nodes may share one, so a simulation steps a whole neighbourhood in lockstep.
    """

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ms(self) -> int:
        """The time last set."""
        return self._now

    async def sleep_until(self, t_ms: int) -> None:
        """Wait for `advance_to` to reach `t_ms`."""
        if t_ms <= self._now:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (t_ms, next(self._order), future))
        await future

    def advance_to(self, t_ms: int) -> None:
        """Move the time forwards (never backwards) and wake the waiters now due."""
        self._now = max(self._now, t_ms)
        while self._waiters and self._waiters[0][0] <= self._now:
            _t, _n, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    def advance(self, delta_ms: int) -> None:
        """Move the time forwards by `delta_ms`."""
        self.advance_to(self._now + delta_ms)
