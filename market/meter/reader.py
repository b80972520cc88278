"""A supervised TIC reader: open the dongle, decode, publish, reconnect with backoff.

The reader task never dies on an error: it records it, reports RECONNECTING, waits
(1 s, 2 s, 4 s ... up to `backoff_max`), and opens the port again. A line that
sends no valid frame for `silence_timeout` seconds (unplugged meter, wrong baud
rate, ser2net peer gone quiet) counts as lost. With `baudrate="auto"` the reader
alternates 9600 and 1200 baud until frames arrive, then sticks to what worked.

It logs one line (info) when the readings stop, whatever the number of retries, and
one when they are back; the retries in between log at debug level only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal, NoReturn

from ..supervise import FaultLog
from .decoder import TicDecoder
from .errors import InvalidBaudrateError, NoFrameError, PortUnavailableError
from .frame import Frame, Mode, parse_mode
from .serial_link import Framing, Link, check_port, open_link
from .snapshot import Counters, MeterSnapshot, ReaderState, ReaderStatus
from .state import MeterState, MeterTracker

_LOGGER = logging.getLogger(__name__)

BAUD_RATES: dict[Mode, int] = {Mode.STANDARD: 9600, Mode.HISTORIC: 1200}
Baudrate = int | Literal["auto"]
Opener = Callable[[str, int, Framing], Awaitable[Link]]
Listener = Callable[[MeterSnapshot], None]


class _LineLostError(Exception):
    """The line went silent or closed; the reader reconnects."""


def baud_candidates(baudrate: Baudrate, mode: Mode | None) -> tuple[int, ...]:
    """Baud rates to try in turn; raise InvalidBaudrateError for anything else."""
    if baudrate == "auto":
        if mode is not None:
            other = 1200 if mode is Mode.STANDARD else 9600
            return (BAUD_RATES[mode], other)  # ADTEK modules run historic at 9600
        return (9600, 1200)
    if baudrate in (1200, 9600):
        return (baudrate,)
    raise InvalidBaudrateError(baudrate)


class TicReader:
    """Read a Linky through a dongle and publish MeterSnapshots to listeners."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: Baudrate = "auto",
        mode: Mode | str | None = None,
        framing: Framing = "7E1",
        silence_timeout: float = 10.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        opener: Opener = open_link,
    ) -> None:
        """Configure a reader; nothing is opened before `start()`.

        Raises InvalidPortError, InvalidBaudrateError or InvalidModeError at once for
        a configuration that could never work; everything else is retried.
        """
        self.port = check_port(port)
        mode = parse_mode(mode)
        self._bauds = baud_candidates(baudrate, mode)
        self._framing: Framing = framing
        self._silence = silence_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._opener = opener
        self.decoder = TicDecoder(mode)
        self.tracker = MeterTracker()
        self._status = ReaderStatus(ReaderState.STOPPED, since=datetime.now(UTC))
        self._listeners: list[Listener] = []
        self._queues: list[asyncio.Queue[Frame]] = []
        self._task: asyncio.Task[None] | None = None
        # A failing listener is logged once per cause, not on every frame (one a second).
        self.listener_stats: dict[str, int] = {}
        self._listener_faults = FaultLog(
            f"a listener of TIC port {self.port}", self.listener_stats, "listener_faults"
        )
        # A "no readings" line was logged and no "readings are back" line since.
        self._outage_logged = False
        self.opened = False  # the port was opened at least once

    @property
    def status(self) -> ReaderStatus:
        """The current link status."""
        return self._status

    @property
    def meter(self) -> MeterState | None:
        """The latest merged meter state, or None before the first frame."""
        return self.tracker.state

    def snapshot(self, frame: Frame | None = None) -> MeterSnapshot:
        """The reader's current view, as listeners receive it."""
        return MeterSnapshot(
            status=self._status,
            counters=Counters.from_stats(
                self.decoder.stats, self.tracker.index_regressions_rejected
            ),
            meter=self.tracker.state,
            frame=frame,
        )

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on every frame and status change; returns the remover."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    async def frames(self) -> AsyncIterator[Frame]:
        """Yield valid frames as they arrive, until the reader stops."""
        queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=64)
        self._queues.append(queue)
        try:
            while self._task is not None:
                get = asyncio.ensure_future(queue.get())
                try:
                    done, _ = await asyncio.wait({get, self._task}, return_when="FIRST_COMPLETED")
                finally:
                    if not get.done():
                        get.cancel()
                if get not in done:
                    return
                yield get.result()
        finally:
            self._queues.remove(queue)

    async def start(self) -> None:
        """Start reading in a background task (returns at once)."""
        if self._task is not None:
            return
        self._set_status(ReaderState.CONNECTING)
        self._task = asyncio.create_task(self._run(), name=f"tic-reader {self.port}")

    async def stop(self) -> None:
        """Stop reading and close the port."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_status(ReaderState.STOPPED)

    async def wait_for_frame(self, wait_s: float) -> Frame:
        """Start if needed and return the next valid frame; raise NoFrameError after `wait_s`."""
        arrived: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()

        def on_snapshot(snapshot: MeterSnapshot) -> None:
            if snapshot.frame is not None and not arrived.done():
                arrived.set_result(snapshot.frame)

        remove = self.add_listener(on_snapshot)
        try:
            await self.start()
            async with asyncio.timeout(wait_s):
                return await arrived
        except TimeoutError:
            raise NoFrameError(self.port, wait_s) from None
        finally:
            remove()

    def _set_status(self, state: ReaderState, error: str | None = None) -> None:
        old = self._status
        if state is old.state and error is None:
            return
        last_error = (
            old.last_error if error is None and state is not ReaderState.CONNECTED else error
        )
        self._status = ReaderStatus(
            state=state,
            since=datetime.now(UTC),
            last_error=last_error,
            baudrate=old.baudrate,
            reconnects=old.reconnects + (state is ReaderState.RECONNECTING),
        )
        self._publish(None)

    def _publish(self, frame: Frame | None) -> None:
        snapshot = self.snapshot(frame)
        failed = False
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception as err:  # one listener must not starve the others
                self._listener_faults.failed(err)
                failed = True
        if not failed:
            self._listener_faults.recovered()
        if frame is not None:
            for queue in self._queues:
                if queue.full():
                    queue.get_nowait()  # a slow consumer sees the newest frames
                queue.put_nowait(frame)

    async def _run(self) -> None:
        delay = self._backoff_initial
        bauds = self._bauds
        while True:
            for baud in bauds:
                try:
                    await self._session(baud)
                except Exception as err:  # supervised: any failure means reconnect
                    self._report(f"{type(err).__name__}: {err}")
                if self._status.state is ReaderState.CONNECTED:
                    # Try what worked first next time, and retry quickly.
                    bauds = (baud, *(b for b in self._bauds if b != baud))
                    delay = self._backoff_initial
                    break
            # Only now: a first baud rate that finds nothing is the search, not an outage.
            self._log_outage()
            self._set_status(ReaderState.RECONNECTING, self._status.last_error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    def _report(self, error: str) -> None:
        _LOGGER.debug("TIC port %s: %s", self.port, error)
        self._status = replace(self._status, last_error=error)

    def _log_outage(self) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            _LOGGER.info(
                "TIC port %s: no meter readings (%s); retrying in the background",
                self.port,
                self._status.last_error,
            )

    async def _session(self, baud: int) -> NoReturn:
        # Returns only by raising: the line closed, went silent, or failed.
        link = await asyncio.wait_for(self._opener(self.port, baud, self._framing), 10.0)
        self.opened = True
        self.decoder.reset()
        got_frames = False
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._silence
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise _LineLostError(f"no valid frame for {self._silence:g} s at {baud} baud")
                try:
                    async with asyncio.timeout(remaining):
                        data = await link.read()
                except TimeoutError:
                    continue
                if not data:
                    raise _LineLostError("connection closed by the dongle")
                for frame in self.decoder.feed(data):
                    deadline = loop.time() + self._silence
                    if not got_frames:
                        got_frames = True
                        self._status = replace(self._status, baudrate=baud)
                        if self._outage_logged:
                            self._outage_logged = False
                            _LOGGER.info(
                                "TIC port %s: meter readings are back (%d baud)", self.port, baud
                            )
                        self._set_status(ReaderState.CONNECTED)
                    self.tracker.update(frame, datetime.now(UTC))
                    self._publish(frame)
        finally:
            await link.close()


async def read_one_frame(
    port: str,
    *,
    baudrate: Baudrate = "auto",
    mode: Mode | str | None = None,
    wait_s: float = 10.0,
) -> Frame:
    """Open `port`, return its first valid frame, close it (a config flow's check).

    Raises PortUnavailableError (an OSError) when the port could not be opened at all
    within `wait_s` seconds, NoFrameError when it was but no valid frame arrived, and
    InvalidPortError / InvalidBaudrateError for a bad configuration.
    """
    per_try = wait_s / len(baud_candidates(baudrate, parse_mode(mode)))
    reader = TicReader(
        port, baudrate=baudrate, mode=mode, silence_timeout=per_try, backoff_initial=0.2
    )
    try:
        return await reader.wait_for_frame(wait_s)
    except NoFrameError:
        if not reader.opened:  # a wrong path says so, not "check the wiring"
            raise PortUnavailableError(port, reader.status.last_error) from None
        raise
    finally:
        await reader.stop()
