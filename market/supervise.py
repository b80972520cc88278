"""Keeping a node's loops alive through a failing step, without flooding the log.

A loop that dies stops the market for the household without a word; one that logs a
traceback on every turn fills the disk. `FaultLog` sits between: every failure is
counted, and each cause (exception type and the line that raised it) is logged with
its traceback once per interval, then with the number of repeats in between
(market.logflood).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, MutableMapping

from .logflood import FloodLog

_LOGGER = logging.getLogger(__name__)


def _cause(err: BaseException) -> tuple[str, str, int]:
    frames = traceback.extract_tb(err.__traceback__)
    where = frames[-1] if frames else None
    return (type(err).__name__, where.filename if where else "", where.lineno or 0 if where else 0)


class FaultLog:
    """Counts failures of one loop under `counter` in `stats`; logs each cause at most
    once per `interval_s` (monotonic seconds)."""

    def __init__(
        self,
        what: str,
        stats: MutableMapping[str, int],
        counter: str,
        *,
        interval_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._what = what
        self._stats = stats
        self._counter = counter
        stats.setdefault(counter, 0)
        self._log = FloodLog(_LOGGER, interval_s, clock=clock)

    def failed(self, err: Exception) -> None:
        """Count `err`; log it unless its cause was logged within the interval."""
        self._stats[self._counter] += 1
        self._log.log(logging.ERROR, _cause(err), "%s failed; it goes on", self._what, exc_info=err)


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set (True) or `timeout_s` has passed (False).

    For the loops that wait between turns. On Python 3.11 `asyncio.wait_for` can swallow
    a cancellation that arrives as its timeout fires, and a loop that waits with it then
    never stops (`Node.stop` hung on it); `asyncio.timeout` never loses a cancellation.
    """
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return False
    return True
