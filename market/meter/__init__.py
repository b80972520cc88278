"""market.meter: the Linky TIC decoder, typed meter values, serial reader and simulator.

Public API (see docs/meter.md):

- `TicDecoder(mode=None).feed(bytes) -> list[Frame]`, with `.stats` (DecoderStats)
- `MeterTracker().update(frame) -> MeterState` (typed values: Wh, VA, W, A, V)
- `TicReader(port, baudrate="auto", mode=None)`: `await start()/stop()`,
  `add_listener(fn(MeterSnapshot))`, `frames()`, `status`, `meter`
- `read_one_frame(port, baudrate="auto", mode=None, wait_s=10) -> Frame`
- `MeterSimulator(SimulatorConfig(...), start).step(seconds) -> bytes`
"""

from .decoder import BadReason, DecoderStats, TicDecoder
from .errors import (
    InvalidBaudrateError,
    InvalidModeError,
    InvalidPortError,
    MeterError,
    NoFrameError,
    PortUnavailableError,
)
from .frame import Dataset, Frame, Mode, parse_mode
from .horodate import Horodate, Season
from .reader import TicReader, read_one_frame
from .simulator import MeterSimulator, SimulatorConfig
from .snapshot import Counters, MeterSnapshot, ReaderState, ReaderStatus
from .state import MeterState, MeterTracker
from .stge import CutoffState, Stge, TempoColour

__all__ = [
    "BadReason",
    "Counters",
    "CutoffState",
    "Dataset",
    "DecoderStats",
    "Frame",
    "Horodate",
    "InvalidBaudrateError",
    "InvalidModeError",
    "InvalidPortError",
    "MeterError",
    "MeterSimulator",
    "MeterSnapshot",
    "MeterState",
    "MeterTracker",
    "Mode",
    "NoFrameError",
    "PortUnavailableError",
    "ReaderState",
    "ReaderStatus",
    "Season",
    "SimulatorConfig",
    "Stge",
    "TempoColour",
    "TicDecoder",
    "TicReader",
    "parse_mode",
    "read_one_frame",
]
