"""Log floods collapsed to one line per cause per interval.

Whatever the network can trigger must not write a line per event: at the fd limit
asyncio logged 160,706 tracebacks in 35 s. `Collapser` decides, per cause, whether to
log now (the first occurrence of each interval) and how many were held back since;
`CollapseFilter` applies it to a logger's records, `FloodLog` to our own calls.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_INTERVAL_S = 60.0
# Causes are chosen by our code (a reason, a message template, an exception's type and
# line), not by the sender; the cap only keeps a bug from growing the table.
MAX_CAUSES = 256


class Collapser:
    """Lets each cause through at most once per `interval_s` (monotonic seconds)."""

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        max_causes: int = MAX_CAUSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._max_causes = max_causes
        self._clock = clock
        # cause -> (when it was last let through, occurrences held back since)
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def admit(self, cause: Hashable) -> int | None:
        """None: hold this occurrence back; else log it, with the number held back."""
        now = self._clock()
        last = self._seen.get(cause)
        if last is not None and now - last[0] < self.interval_s:
            self._seen[cause] = (last[0], last[1] + 1)
            return None
        self._seen[cause] = (now, 0)
        self._seen.move_to_end(cause)
        while len(self._seen) > self._max_causes:
            self._seen.popitem(last=False)
        return 0 if last is None else last[1]


def suppressed_note(held_back: int) -> str:
    """The suffix that tells how many lines a collapsed one stands for."""
    return f" ({held_back} more since it was last logged)" if held_back else ""


def _record_cause(record: logging.LogRecord) -> Hashable:
    exc_type = record.exc_info[0] if record.exc_info else None
    return (record.name, record.levelno, str(record.msg), exc_type)


class CollapseFilter(logging.Filter):
    """A filter for a logger (e.g. `asyncio`) whose records may come in floods: one
    record per cause (logger, level, message template, exception type) per interval."""

    def __init__(
        self,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._collapser = Collapser(interval_s, clock=clock)

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat inside the interval; the next one tells how many."""
        held_back = self._collapser.admit(_record_cause(record))
        if held_back is None:
            return False
        if held_back:
            record.msg = record.getMessage() + suppressed_note(held_back)
            record.args = None
        return True


class FloodLog:
    """Our own logging of events the network can repeat at will (refusals, failures):
    `log(cause, ...)` writes at most one line per cause per interval."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._collapser = Collapser(interval_s, clock=clock)

    def log(
        self,
        level: int,
        cause: Hashable,
        msg: str,
        *args: object,
        exc_info: BaseException | None = None,
    ) -> bool:
        """Log msg % args unless `cause` was logged within the interval; True if logged."""
        held_back = self._collapser.admit(cause)
        if held_back is None:
            return False
        note = suppressed_note(held_back)
        self._logger.log(level, msg + note, *args, exc_info=exc_info)
        return True
