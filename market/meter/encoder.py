"""Encode datasets and frames with correct checksums (for the simulator and tests)."""

from __future__ import annotations

from collections.abc import Iterable

from .checksum import checksum_char
from .frame import Mode

STX = b"\x02"
ETX = b"\x03"


def encode_dataset(mode: Mode, label: str, value: str, horodate: str | None = None) -> bytes:
    """Return `LF label SEP [horodate SEP] value SEP checksum CR` for the given mode.

    Historic datasets have no horodate; passing one raises ValueError.
    """
    lab = label.encode("ascii")
    data = value.encode("ascii")
    if mode is Mode.HISTORIC:
        if horodate is not None:
            raise ValueError(f"historic dataset {label!r} cannot carry horodate {horodate!r}")
        body = lab + b" " + data
        return b"\n" + body + b" " + bytes((checksum_char(body),)) + b"\r"
    if horodate is None:
        covered = lab + b"\t" + data + b"\t"
    else:
        covered = lab + b"\t" + horodate.encode("ascii") + b"\t" + data + b"\t"
    return b"\n" + covered + bytes((checksum_char(covered),)) + b"\r"


def encode_frame(mode: Mode, datasets: Iterable[tuple[str, str, str | None]]) -> bytes:
    """Return STX, the encoded (label, value, horodate) datasets, ETX."""
    return STX + b"".join(encode_dataset(mode, *d) for d in datasets) + ETX
