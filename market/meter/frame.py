"""Decoded TIC frames: the modes, datasets and frames the decoder emits."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InvalidModeError
from .horodate import Horodate


class Mode(enum.StrEnum):
    """The TIC mode of a meter: historic (1200 baud, SP) or standard (9600 baud, HT)."""

    HISTORIC = "historic"
    STANDARD = "standard"


def parse_mode(value: Mode | str | None) -> Mode | None:
    """Return the Mode for `historic`/`standard`, None for `auto` or None.

    Raises InvalidModeError (naming the value) for anything else.
    """
    if value is None or isinstance(value, Mode):
        return value
    if value == "auto":
        return None
    try:
        return Mode(value)
    except ValueError:
        raise InvalidModeError(value) from None


@dataclass(frozen=True, slots=True)
class Dataset:
    """One dataset whose checksum and shape were valid: label, raw data, horodate."""

    label: str
    value: str
    horodate: Horodate | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete frame (STX ... ETX) as its valid datasets, by label in arrival order.

    `bad_datasets` counts the datasets of this frame that were dropped.
    """

    mode: Mode
    datasets: Mapping[str, Dataset]
    bad_datasets: int = 0

    def get(self, label: str) -> str | None:
        """Return a label's raw data, or None when the frame did not carry it valid."""
        dataset = self.datasets.get(label)
        return None if dataset is None else dataset.value

    def to_json_obj(self) -> dict[str, object]:
        """The frame as `{"mode": ..., "values": {LABEL: data | {horodate, value}}}`."""
        values: dict[str, object] = {}
        for label, dataset in self.datasets.items():
            if dataset.horodate is None:
                values[label] = dataset.value
            else:
                values[label] = {"horodate": dataset.horodate.raw, "value": dataset.value}
        return {"mode": self.mode.value, "values": values}
