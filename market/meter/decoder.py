"""Streaming TIC decoder: bytes in (split anywhere), frames out, bad data counted.

The decoder never raises on line data. A dataset is dropped, and counted by
reason, when its checksum fails or it is malformed; only datasets that pass both
reach a Frame. Bytes before the first STX (the partial frame the line was in when
we started listening) are skipped.
"""

from __future__ import annotations

import enum
import functools
import re
from collections import Counter
from dataclasses import dataclass, field

from .checksum import checksum_char
from .frame import Dataset, Frame, Mode
from .horodate import Horodate, HorodateError, parse_horodate
from .labels import HISTORIC_LABELS, LABEL_PATTERN, STANDARD_LABELS, Kind, LabelSpec, data_matches

STX = 0x02
ETX = 0x03
EOT = 0x04
LF = b"\n"
CR = 0x0D
HT = 0x09
SP = 0x20

# The largest real frame (standard, three-phase, producer) is under 1.5 KB; anything
# much longer is a line that lost its ETX, and must not grow memory without bound.
MAX_FRAME_BYTES = 4096

# 8N1 dongles deliver the parity bit as the high bit: 7E1 data is the low 7 bits.
_MASK_7BIT = bytes(b & 0x7F for b in range(256))
_CONTROL = re.compile(b"[\x02\x03\x04]")
_UNKNOWN_TEXT = LabelSpec(Kind.TEXT)
_UNKNOWN_TEXT_HORODATED = LabelSpec(Kind.TEXT, horodated=True)


class BadReason(enum.StrEnum):
    """Why a dataset was dropped."""

    CHECKSUM = "checksum"  # checksum character does not match
    MALFORMED = "malformed"  # separators or field count wrong
    UNTERMINATED = "unterminated"  # no CR before the next LF or the ETX (e.g. 0x0C)
    BAD_LABEL = "bad_label"  # label not made of upper-case letters, digits, + and -
    BAD_VALUE = "bad_value"  # data does not have the shape its label requires
    BAD_HORODATE = "bad_horodate"  # horodate missing, unexpected or invalid
    WRONG_MODE = "wrong_mode"  # a dataset of the other mode inside a frame


@dataclass(slots=True)
class DecoderStats:
    """Counters of what the decoder saw since it was created."""

    frames: int = 0
    datasets_ok: int = 0
    datasets_bad: Counter[BadReason] = field(default_factory=Counter)
    frames_aborted: int = 0  # EOT received inside a frame
    frames_incomplete: int = 0  # STX before ETX, or frame longer than MAX_FRAME_BYTES
    frames_empty: int = 0  # complete frame without one valid dataset
    bytes_skipped: int = 0  # bytes outside any frame

    @property
    def datasets_bad_total(self) -> int:
        """Total number of dropped datasets, every reason together."""
        return sum(self.datasets_bad.values())


@functools.lru_cache(maxsize=512)
def _cached_horodate(raw: str) -> Horodate | None:
    # Max-power and average-voltage horodates repeat frame after frame.
    try:
        return parse_horodate(raw)
    except HorodateError:
        return None


class TicDecoder:
    """Incremental decoder for historic and standard TIC streams.

    `mode=None` detects the mode from the data (HT separators mean standard);
    a fixed mode drops datasets of the other mode as WRONG_MODE.
    """

    def __init__(self, mode: Mode | None = None) -> None:
        """Create a decoder, auto-detecting the mode unless one is given."""
        self.fixed_mode = mode
        self.mode: Mode | None = mode
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._in_frame = False

    def reset(self) -> None:
        """Forget any partial frame (after a reconnection); counters are kept."""
        self._buf.clear()
        self._in_frame = False

    def feed(self, data: bytes) -> list[Frame]:
        """Consume bytes and return the frames they completed, oldest first."""
        data = data.translate(_MASK_7BIT)
        frames: list[Frame] = []
        pos = 0
        stats = self.stats
        for match in _CONTROL.finditer(data):
            idx = match.start()
            byte = data[idx]
            if self._in_frame:
                self._buf += data[pos:idx]
                if byte == ETX:
                    frame = self._finish(bytes(self._buf))
                    if frame is not None:
                        frames.append(frame)
                    self._in_frame = False
                elif byte == EOT:
                    stats.frames_aborted += 1
                    self._in_frame = False
                else:
                    stats.frames_incomplete += 1
                self._buf.clear()
            else:
                # A stray ETX or EOT between frames is skipped too.
                stats.bytes_skipped += idx - pos + (byte != STX)
                if byte == STX:
                    self._in_frame = True
                    self._buf.clear()
            pos = idx + 1
        if self._in_frame:
            self._buf += data[pos:]
            if len(self._buf) > MAX_FRAME_BYTES:
                stats.frames_incomplete += 1
                stats.bytes_skipped += len(self._buf)
                self._buf.clear()
                self._in_frame = False
        else:
            stats.bytes_skipped += len(data) - pos
        return frames

    def _finish(self, body: bytes) -> Frame | None:
        stats = self.stats
        chunks = body.split(LF)
        datasets: dict[str, Dataset] = {}
        bad: list[BadReason] = []
        frame_mode = self.fixed_mode
        # chunks[0] precedes the first LF: empty, or the CR some meters send after STX.
        if chunks[0].strip(b"\r"):
            bad.append(BadReason.UNTERMINATED)
        last = len(chunks) - 1
        for i in range(1, len(chunks)):
            chunk = chunks[i]
            if not chunk or chunk[-1] != CR:
                # The frame's last chunk is empty when the meter ends with CR LF ETX.
                if i != last or chunk:
                    bad.append(BadReason.UNTERMINATED)
                continue
            raw = chunk[:-1]
            mode = Mode.STANDARD if HT in raw else Mode.HISTORIC
            if frame_mode is None:
                frame_mode = mode
            elif mode is not frame_mode:
                bad.append(BadReason.WRONG_MODE)
                continue
            result = _parse_standard(raw) if mode is Mode.STANDARD else _parse_historic(raw)
            if isinstance(result, Dataset):
                datasets[result.label] = result
            else:
                bad.append(result)
        for reason in bad:
            stats.datasets_bad[reason] += 1
        if not datasets or frame_mode is None:
            stats.frames_empty += 1
            return None
        stats.frames += 1
        stats.datasets_ok += len(datasets)
        self.mode = frame_mode
        return Frame(mode=frame_mode, datasets=datasets, bad_datasets=len(bad))


def _parse_historic(raw: bytes) -> Dataset | BadReason:
    # LABEL SP DATA SP CHECKSUM; the checksum may itself be a space, so parse from the end.
    if len(raw) < 4 or raw[-2] != SP:
        return BadReason.MALFORMED
    body = raw[:-2]
    if checksum_char(body) != raw[-1]:
        return BadReason.CHECKSUM
    label_b, sep, data_b = body.partition(b" ")
    if not sep:
        return BadReason.MALFORMED
    return _validate(label_b.decode("ascii"), None, data_b.decode("ascii"), HISTORIC_LABELS)


def _parse_standard(raw: bytes) -> Dataset | BadReason:
    # LABEL HT [HORODATE HT] DATA HT CHECKSUM; data may hold spaces, never HT.
    if len(raw) < 4 or raw[-2] != HT:
        return BadReason.MALFORMED
    if checksum_char(raw[:-1]) != raw[-1]:
        return BadReason.CHECKSUM
    parts = raw[:-2].decode("ascii").split("\t")
    if len(parts) == 2:
        return _validate(parts[0], None, parts[1], STANDARD_LABELS)
    if len(parts) == 3:
        return _validate(parts[0], parts[1], parts[2], STANDARD_LABELS)
    return BadReason.MALFORMED


def _validate(
    label: str, horodate_raw: str | None, data: str, table: dict[str, LabelSpec]
) -> Dataset | BadReason:
    spec = table.get(label)
    if spec is None:
        if LABEL_PATTERN.fullmatch(label) is None:
            return BadReason.BAD_LABEL
        spec = _UNKNOWN_TEXT if horodate_raw is None else _UNKNOWN_TEXT_HORODATED
    if not data_matches(spec.kind, data):
        return BadReason.BAD_VALUE
    if (horodate_raw is not None) is not spec.horodated:
        return BadReason.BAD_HORODATE
    if horodate_raw is None:
        return Dataset(label, data)
    horodate = _cached_horodate(horodate_raw)
    if horodate is None:
        return BadReason.BAD_HORODATE
    return Dataset(label, data, horodate)
