"""What each TIC label holds, so malformed data is caught before it becomes a value.

Label knowledge lives in these tables rather than in code paths: adding a label is
one line. Units are those the meter sends; typed conversion is in `state.py`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Kind(enum.Enum):
    """The shape of a dataset's data field."""

    INT = "int"  # ASCII digits only
    TEXT = "text"  # printable ASCII, spaces allowed
    HEX = "hex"  # 8 upper-case hexadecimal digits (STGE)
    EMPTY = "empty"  # nothing: DATE carries its value in the horodate


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """How a label's data field must look; `horodated` for standard-mode labels."""

    kind: Kind
    horodated: bool = False


INT = LabelSpec(Kind.INT)
TEXT = LabelSpec(Kind.TEXT)
INT_H = LabelSpec(Kind.INT, horodated=True)

LABEL_PATTERN = re.compile(r"[A-Z0-9+\-]{1,16}")


def _phases(prefix: str, spec: LabelSpec, suffix: str = "") -> dict[str, LabelSpec]:
    return {f"{prefix}{n}{suffix}": spec for n in ("1", "2", "3")}


HISTORIC_LABELS: dict[str, LabelSpec] = {
    "ADCO": TEXT,
    "OPTARIF": TEXT,
    "ISOUSC": INT,
    "BASE": INT,
    "HCHC": INT,
    "HCHP": INT,
    "EJPHN": INT,
    "EJPHPM": INT,
    "BBRHCJB": INT,
    "BBRHPJB": INT,
    "BBRHCJW": INT,
    "BBRHPJW": INT,
    "BBRHCJR": INT,
    "BBRHPJR": INT,
    "PEJP": INT,
    "PTEC": TEXT,
    "DEMAIN": TEXT,
    "IINST": INT,
    **_phases("IINST", INT),
    "ADPS": INT,
    **_phases("ADIR", INT),
    "IMAX": INT,
    **_phases("IMAX", INT),
    "PMAX": INT,
    "PAPP": INT,
    "HHPHC": TEXT,
    "MOTDETAT": TEXT,
    "PPOT": TEXT,
}

STANDARD_LABELS: dict[str, LabelSpec] = {
    "ADSC": TEXT,
    "VTIC": TEXT,
    "DATE": LabelSpec(Kind.EMPTY, horodated=True),
    "NGTF": TEXT,
    "LTARF": TEXT,
    "EAST": INT,
    **{f"EASF{n:02d}": INT for n in range(1, 11)},
    **{f"EASD{n:02d}": INT for n in range(1, 5)},
    "EAIT": INT,
    **{f"ERQ{n}": INT for n in range(1, 5)},
    **_phases("IRMS", INT),
    **_phases("URMS", INT),
    "PREF": INT,
    "PCOUP": INT,
    "SINSTS": INT,
    **_phases("SINSTS", INT),
    "SMAXSN": INT_H,
    **_phases("SMAXSN", INT_H),
    "SMAXSN-1": INT_H,
    **_phases("SMAXSN", INT_H, "-1"),
    "SINSTI": INT,
    "SMAXIN": INT_H,
    "SMAXIN-1": INT_H,
    "CCASN": INT_H,
    "CCASN-1": INT_H,
    "CCAIN": INT_H,
    "CCAIN-1": INT_H,
    **_phases("UMOY", INT_H),
    "STGE": LabelSpec(Kind.HEX),
    **_phases("DPM", INT_H),
    **_phases("FPM", INT_H),
    "MSG1": TEXT,
    "MSG2": TEXT,
    "PRM": TEXT,
    "RELAIS": INT,
    "NTARF": INT,
    "NJOURF": INT,
    "NJOURF+1": INT,
    "PJOURF+1": TEXT,
    "PPOINTE": TEXT,
    # Early pilot meters name the apparent power and its maximum differently.
    **_phases("SINST", INT),
    "SMAXN": INT_H,
    **_phases("SMAXN", INT_H),
    "SMAXN-1": INT_H,
    **_phases("SMAXN", INT_H, "-1"),
}

_HEX_DIGITS = frozenset("0123456789ABCDEF")


def data_matches(kind: Kind, data: str) -> bool:
    """Whether a data field has the shape its label's kind requires."""
    if kind is Kind.INT:
        return data.isdigit() and data.isascii()
    if kind is Kind.TEXT:
        return data.isascii() and data.isprintable()
    if kind is Kind.HEX:
        return len(data) == 8 and _HEX_DIGITS.issuperset(data)
    return data == ""
