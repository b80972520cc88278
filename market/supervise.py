"""Keeping a node's loops alive through a failing step, without flooding the log.

A loop that dies stops the market for the household without a word; one that logs a
traceback on every turn fills the disk. `FaultLog` sits between: every failure is
counted, and each cause (exception type and the line that raised it) is logged with
its traceback once per interval, then with the number of repeats in between
(market.logflood). A log
also remembers whether its loop is failing now, until the loop says it works again
(`recovered`): what the node's status shows as its fault. `supervise` restarts a loop
that raised, with a backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, MutableMapping

from .logflood import FloodLog

_LOGGER = logging.getLogger(__name__)

# A failure's message in the status is cut to this many characters: it may quote
# paths and SQLite's words, not unbounded text.
_MAX_DETAIL = 200


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
        self.what = what
        self._stats = stats
        self._counter = counter
        stats.setdefault(counter, 0)
        self._log = FloodLog(_LOGGER, interval_s, clock=clock)
        # failures since the loop last worked, and the latest of them
        self.consecutive = 0
        self._last: str | None = None

    @property
    def fault(self) -> str | None:
        """What fails now ("<what>: <error>"), None while the loop works."""
        return None if self._last is None else f"{self.what}: {self._last}"

    def failed(self, err: Exception) -> None:
        """Count `err`; log it unless its cause was logged within the interval."""
        self._stats[self._counter] += 1
        self.consecutive += 1
        self._last = f"{type(err).__name__}: {err}"[:_MAX_DETAIL]
        self._log.log(logging.ERROR, _cause(err), "%s failed; it goes on", self.what, exc_info=err)

    def recovered(self) -> None:
        """The loop did its work again: it is no longer failing (one log line)."""
        if self._last is None:
            return
        _LOGGER.warning("%s works again after %d failures", self.what, self.consecutive)
        self._last = None
        self.consecutive = 0


def current_fault(logs: Iterable[FaultLog]) -> str | None:
    """What fails now among `logs`, joined by "; " (None when nothing does)."""
    faults = [log.fault for log in logs if log.fault is not None]
    return "; ".join(faults) if faults else None


async def supervise(
    run: Callable[[], Awaitable[None]],
    faults: FaultLog,
    *,
    backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
) -> None:
    """Run `run()` until it returns or is cancelled. Each time it raises, the failure is
    counted and logged by `faults` and `run()` starts again after a backoff that doubles
    while it keeps failing (from `backoff_s` again once the loop called `recovered`)."""
    while True:
        try:
            await run()
        except Exception as err:  # the loop must come back: the market needs it
            faults.failed(err)
        else:
            return
        exponent = min(faults.consecutive - 1, 16)
        await asyncio.sleep(min(backoff_s * 2**exponent, max_backoff_s))


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
