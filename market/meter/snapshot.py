"""Immutable views of a reader for its listeners: link status, counters, meter state."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .decoder import DecoderStats
from .frame import Frame
from .state import MeterState


class ReaderState(enum.StrEnum):
    """Where a reader's link to the dongle stands."""

    CONNECTING = "connecting"  # first attempt, no frame yet
    CONNECTED = "connected"  # valid frames are arriving
    RECONNECTING = "reconnecting"  # lost the line; retrying with backoff
    STOPPED = "stopped"  # stop() was called, or never started


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """The link state, the last error seen (kept while reconnecting) and since when."""

    state: ReaderState
    since: datetime
    last_error: str | None = None
    baudrate: int | None = None
    reconnects: int = 0


@dataclass(frozen=True, slots=True)
class Counters:
    """Frames decoded and datasets dropped, by reason, since the reader started."""

    frames: int = 0
    datasets_ok: int = 0
    datasets_bad: Mapping[str, int] = field(default_factory=dict)
    frames_aborted: int = 0
    frames_incomplete: int = 0
    index_regressions_rejected: int = 0

    @property
    def datasets_bad_total(self) -> int:
        """Dropped datasets, every reason together."""
        return sum(self.datasets_bad.values())

    @classmethod
    def from_stats(cls, stats: DecoderStats, index_regressions_rejected: int = 0) -> Counters:
        """Freeze a decoder's live counters."""
        return cls(
            frames=stats.frames,
            datasets_ok=stats.datasets_ok,
            datasets_bad={reason.value: n for reason, n in stats.datasets_bad.items()},
            frames_aborted=stats.frames_aborted,
            frames_incomplete=stats.frames_incomplete,
            index_regressions_rejected=index_regressions_rejected,
        )


@dataclass(frozen=True, slots=True)
class MeterSnapshot:
    """What a listener gets: the merged meter state, the frame behind it, and health.

    `meter` and `frame` are None in snapshots sent for a status change before any frame.
    """

    status: ReaderStatus
    counters: Counters
    meter: MeterState | None = None
    frame: Frame | None = None

    @property
    def available(self) -> bool:
        """Whether values are live (entities should be unavailable otherwise)."""
        return self.status.state is ReaderState.CONNECTED and self.meter is not None
