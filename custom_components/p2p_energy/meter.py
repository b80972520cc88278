"""Push the Linky reader's snapshots to entities, throttled.

The reader publishes a snapshot per frame (about one a second in standard mode);
entities need far fewer state writes. Snapshots are held back to one per update
interval, except those a user must see at once: the dongle going away or coming
back, and an overcurrent warning.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later

from market.meter.reader import TicReader
from market.meter.snapshot import MeterSnapshot

type SnapshotListener = Callable[[MeterSnapshot], None]


def _urgent(previous: MeterSnapshot | None, new: MeterSnapshot) -> bool:
    if previous is None or previous.available != new.available:
        return True
    if previous.status.state is not new.status.state:
        return True
    was_over = previous.meter is not None and previous.meter.overcurrent
    return new.meter is not None and new.meter.overcurrent and not was_over


class TicMeterHub:
    """Owns the reader of one household's Linky and fans its snapshots out."""

    def __init__(self, hass: HomeAssistant, reader: TicReader, interval_s: float) -> None:
        """Wrap `reader`; nothing is opened before `async_start`."""
        self.hass = hass
        self.reader = reader
        self.interval_s = interval_s
        self.snapshot: MeterSnapshot | None = None
        self._pending: MeterSnapshot | None = None
        self._last_push = float("-inf")
        self._listeners: list[SnapshotListener] = []
        # every frame's snapshot, unthrottled: the node cuts slot readings from the
        # indexes and needs each slot boundary heard within two minutes of it
        self._frame_listeners: list[SnapshotListener] = []
        self._cancel_timer: CALLBACK_TYPE | None = None
        self._remove_reader_listener: Callable[[], None] | None = None

    async def async_start(self) -> None:
        """Open the dongle in the background; the reader reconnects by itself."""
        self._remove_reader_listener = self.reader.add_listener(self._on_snapshot)
        await self.reader.start()

    async def async_stop(self) -> None:
        """Close the dongle and drop pending updates."""
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None
        if self._remove_reader_listener is not None:
            self._remove_reader_listener()
            self._remove_reader_listener = None
        await self.reader.stop()

    @callback
    def async_add_listener(self, listener: SnapshotListener) -> CALLBACK_TYPE:
        """Call `listener` with each published snapshot until the returned callback."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    @callback
    def async_add_frame_listener(self, listener: SnapshotListener) -> CALLBACK_TYPE:
        """Call `listener` with every snapshot the reader makes (one per frame, not
        throttled: keep it cheap) until the returned callback."""
        self._frame_listeners.append(listener)

        @callback
        def remove() -> None:
            self._frame_listeners.remove(listener)

        return remove

    @callback
    def _on_snapshot(self, snapshot: MeterSnapshot) -> None:
        for listener in list(self._frame_listeners):
            listener(snapshot)
        self._pending = snapshot
        elapsed = self.hass.loop.time() - self._last_push
        if _urgent(self.snapshot, snapshot) or elapsed >= self.interval_s:
            self._publish()
        elif self._cancel_timer is None:
            self._cancel_timer = async_call_later(
                self.hass, self.interval_s - elapsed, self._on_timer
            )

    @callback
    def _on_timer(self, _now: object) -> None:
        self._cancel_timer = None
        self._publish()

    @callback
    def _publish(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None
        snapshot, self._pending = self._pending, None
        # The timer runs only while a snapshot is held back, and each publication cancels it.
        assert snapshot is not None
        self.snapshot = snapshot
        self._last_push = self.hass.loop.time()
        for listener in list(self._listeners):
            listener(snapshot)
