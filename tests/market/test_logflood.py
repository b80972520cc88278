"""Floods of log lines collapse to one line per cause per interval."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest

from market.logflood import CollapseFilter, FloodLog
from market.node.cli import collapse_asyncio_floods


def test_asyncio_accept_floods_collapse_to_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Out of fds, asyncio's accept loop logs this for every pending connection (160,706
    tracebacks in 35 s); the headless node's filter lets one through per minute."""
    flood_filter = collapse_asyncio_floods()
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(1000):
                err = OSError(errno.EMFILE, "Too many open files")
                loop.call_exception_handler(
                    {"message": "socket.accept() out of system resource", "exception": err}
                )
    finally:
        loop.close()
        logging.getLogger("asyncio").removeFilter(flood_filter)
    accepts = [r for r in caplog.records if "socket.accept()" in r.getMessage()]
    assert len(accepts) == 1


def test_a_collapsed_cause_tells_how_many_were_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    logger = logging.getLogger("tests.logflood")
    flood_filter = CollapseFilter(60, clock=lambda: now[0])
    logger.addFilter(flood_filter)
    try:
        with caplog.at_level(logging.WARNING, logger="tests.logflood"):
            for second in range(130):
                now[0] = float(second)
                logger.warning("refused %s", f"client {second}")
                if second % 2 == 0:
                    logger.warning("another cause")
    finally:
        logger.removeFilter(flood_filter)
    assert [r.getMessage() for r in caplog.records] == [
        "refused client 0",
        "another cause",
        "refused client 60 (59 more since it was last logged)",
        "another cause (29 more since it was last logged)",
        "refused client 120 (59 more since it was last logged)",
        "another cause (29 more since it was last logged)",
    ]


def test_our_refusal_logging_writes_one_line_per_cause(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = FloodLog(logging.getLogger("tests.logflood"), 10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="tests.logflood"):
        logged = [log.log(logging.INFO, "too_large", "refused %s", n) for n in range(500)]
        now[0] = 10.0
        log.log(logging.INFO, "too_large", "refused %s", "later")
    assert logged.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "refused 0",
        "refused later (499 more since it was last logged)",
    ]
