"""Typed meter values: what a frame means, in Wh, VA, W, A and V.

`MeterTracker` turns successive frames into `MeterState` snapshots. It keeps the
last good value of a label that a frame dropped (a bad checksum must not blank a
sensor), lets transient labels (overcurrent warnings) lapse at once, and never
lets an energy index go backwards on one frame's word: a lower index is accepted
only after it has been seen in `REGRESSION_CONFIRMATIONS` consecutive frames (a
replaced meter), so one corrupted digit never reaches the Energy dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .frame import Dataset, Frame, Mode
from .horodate import Horodate
from .stge import Stge, TempoColour, decode_stge

HISTORIC_INDEX_LABELS: tuple[str, ...] = (
    "BASE",
    "HCHC",
    "HCHP",
    "EJPHN",
    "EJPHPM",
    "BBRHCJB",
    "BBRHPJB",
    "BBRHCJW",
    "BBRHPJW",
    "BBRHCJR",
    "BBRHPJR",
)
SUPPLIER_INDEX_LABELS: tuple[str, ...] = tuple(f"EASF{n:02d}" for n in range(1, 11))
DISTRIBUTOR_INDEX_LABELS: tuple[str, ...] = tuple(f"EASD{n:02d}" for n in range(1, 5))
ENERGY_INDEX_LABELS: frozenset[str] = frozenset(
    (
        *HISTORIC_INDEX_LABELS,
        *SUPPLIER_INDEX_LABELS,
        *DISTRIBUTOR_INDEX_LABELS,
        "EAST",
        "EAIT",
        "ERQ1",
        "ERQ2",
        "ERQ3",
        "ERQ4",
    )
)
# Labels that only exist while a condition lasts: never carried over to later frames.
TRANSIENT_LABELS: frozenset[str] = frozenset(("ADPS", "ADIR1", "ADIR2", "ADIR3", "MSG2", "PEJP"))
# A label missing from this many frames in a row is forgotten.
STALE_AFTER_FRAMES = 10
REGRESSION_CONFIRMATIONS = 3

_TEMPO_BY_TEXT: dict[str, TempoColour] = {
    "BLEU": TempoColour.BLUE,
    "BLAN": TempoColour.WHITE,
    "ROUG": TempoColour.RED,
}
_TEMPO_BY_PTEC_SUFFIX: dict[str, TempoColour] = {
    "JB": TempoColour.BLUE,
    "JW": TempoColour.WHITE,
    "JR": TempoColour.RED,
}

Phases = tuple[int | None, int | None, int | None]


@dataclass(frozen=True, slots=True)
class MeterState:
    """Everything useful a meter said, typed; None where the meter did not say it.

    Energy in Wh, reactive energy in VArh, apparent power in VA, active power in W,
    currents in A, voltages in V, subscribed power in kVA. Per-phase values are
    (L1, L2, L3); a single-phase meter fills L1 only.
    """

    mode: Mode
    address: str | None = None
    meter_time: Horodate | None = None
    phases: int = 1
    producer: bool = False
    tariff_option: str | None = None
    tariff_period: str | None = None
    off_peak: bool | None = None
    tariff_index: int | None = None
    import_wh: int | None = None
    import_indexes_wh: Mapping[str, int] = field(default_factory=dict)
    distributor_indexes_wh: Mapping[str, int] = field(default_factory=dict)
    export_wh: int | None = None
    reactive_varh: tuple[int | None, int | None, int | None, int | None] = (None,) * 4
    apparent_power_va: int | None = None
    phase_apparent_power_va: Phases = (None, None, None)
    injected_power_va: int | None = None
    max_power_today_va: int | None = None
    max_power_yesterday_va: int | None = None
    max_injected_power_today_va: int | None = None
    load_curve_w: int | None = None
    injection_curve_w: int | None = None
    currents_a: Phases = (None, None, None)
    max_currents_a: Phases = (None, None, None)
    voltages_v: Phases = (None, None, None)
    average_voltages_v: Phases = (None, None, None)
    subscribed_current_a: int | None = None
    reference_power_kva: int | None = None
    cutoff_power_kva: int | None = None
    overcurrent: bool = False
    overcurrent_phases_a: Phases = (None, None, None)
    tempo_today: TempoColour | None = None
    tempo_tomorrow: TempoColour | None = None
    status: Stge | None = None
    relays: tuple[bool, ...] | None = None
    messages: tuple[str, ...] = ()
    received_at: datetime | None = None

    @property
    def surplus_power_va(self) -> int | None:
        """Power going to the grid now: injection minus draw (negative when importing)."""
        if self.apparent_power_va is None:
            return None
        return (self.injected_power_va or 0) - self.apparent_power_va


def _int(values: Mapping[str, Dataset], label: str) -> int | None:
    dataset = values.get(label)
    return None if dataset is None else int(dataset.value)


def _text(values: Mapping[str, Dataset], label: str) -> str | None:
    dataset = values.get(label)
    if dataset is None:
        return None
    return " ".join(dataset.value.split()) or None


def _first_int(values: Mapping[str, Dataset], *labels: str) -> int | None:
    for label in labels:
        value = _int(values, label)
        if value is not None:
            return value
    return None


def _phases(values: Mapping[str, Dataset], prefix: str, suffix: str = "") -> Phases:
    return (
        _int(values, f"{prefix}1{suffix}"),
        _int(values, f"{prefix}2{suffix}"),
        _int(values, f"{prefix}3{suffix}"),
    )


def _off_peak(period: str | None) -> bool | None:
    if period is None:
        return None
    if "HC" in period or "CREUSE" in period:
        return True
    if "HP" in period or "PLEINE" in period:
        return False
    return None


def state_from_values(
    mode: Mode, values: Mapping[str, Dataset], received_at: datetime | None = None
) -> MeterState:
    """Interpret one set of valid datasets (a frame, or a merged view of frames)."""
    if mode is Mode.HISTORIC:
        return _historic_state(values, received_at)
    return _standard_state(values, received_at)


def _historic_state(values: Mapping[str, Dataset], received_at: datetime | None) -> MeterState:
    indexes = {
        label: int(values[label].value) for label in HISTORIC_INDEX_LABELS if label in values
    }
    period = _text(values, "PTEC")
    tempo_today = None
    if period is not None and period.startswith(("HC", "HP")):
        tempo_today = _TEMPO_BY_PTEC_SUFFIX.get(period[2:4])
    demain = _text(values, "DEMAIN")
    tempo_tomorrow = None
    if demain is not None:
        tempo_tomorrow = _TEMPO_BY_TEXT.get(demain, TempoColour.NONE)
    three_phase = any(f"IINST{n}" in values for n in (1, 2, 3))
    currents = _phases(values, "IINST") if three_phase else (_int(values, "IINST"), None, None)
    max_currents = _phases(values, "IMAX") if three_phase else (_int(values, "IMAX"), None, None)
    adir = _phases(values, "ADIR")
    overcurrent = "ADPS" in values or any(a is not None for a in adir)
    return MeterState(
        mode=Mode.HISTORIC,
        address=_text(values, "ADCO"),
        phases=3 if three_phase else 1,
        tariff_option=_text(values, "OPTARIF"),
        tariff_period=period,
        off_peak=_off_peak(period),
        import_wh=sum(indexes.values()) if indexes else None,
        import_indexes_wh=indexes,
        apparent_power_va=_int(values, "PAPP"),
        max_power_today_va=_int(values, "PMAX"),
        currents_a=currents,
        max_currents_a=max_currents,
        subscribed_current_a=_int(values, "ISOUSC"),
        overcurrent=overcurrent,
        overcurrent_phases_a=adir if three_phase else (_int(values, "ADPS"), None, None),
        tempo_today=tempo_today,
        tempo_tomorrow=tempo_tomorrow,
        received_at=received_at,
    )


def _standard_state(values: Mapping[str, Dataset], received_at: datetime | None) -> MeterState:
    stge_ds = values.get("STGE")
    status = None if stge_ds is None else decode_stge(int(stge_ds.value, 16))
    relais = _int(values, "RELAIS")
    three_phase = any(label in values for label in ("URMS2", "IRMS2", "SINSTS2", "URMS3"))
    date = values.get("DATE")
    period = _text(values, "LTARF")
    option = _text(values, "NGTF")
    producer = (
        (status is not None and status.producer) or "EAIT" in values or option == "PRODUCTEUR"
    )
    return MeterState(
        mode=Mode.STANDARD,
        address=_text(values, "ADSC"),
        meter_time=None if date is None else date.horodate,
        phases=3 if three_phase else 1,
        producer=producer,
        tariff_option=option,
        tariff_period=period,
        off_peak=_off_peak(period),
        tariff_index=_int(values, "NTARF"),
        import_wh=_int(values, "EAST"),
        import_indexes_wh={
            label: int(values[label].value) for label in SUPPLIER_INDEX_LABELS if label in values
        },
        distributor_indexes_wh={
            label: int(values[label].value) for label in DISTRIBUTOR_INDEX_LABELS if label in values
        },
        export_wh=_int(values, "EAIT"),
        reactive_varh=(
            _int(values, "ERQ1"),
            _int(values, "ERQ2"),
            _int(values, "ERQ3"),
            _int(values, "ERQ4"),
        ),
        apparent_power_va=_first_int(values, "SINSTS", "SINST1"),
        phase_apparent_power_va=(_phases(values, "SINSTS") if three_phase else (None, None, None)),
        injected_power_va=_int(values, "SINSTI"),
        max_power_today_va=_first_int(values, "SMAXSN", "SMAXN"),
        max_power_yesterday_va=_first_int(values, "SMAXSN-1", "SMAXN-1"),
        max_injected_power_today_va=_int(values, "SMAXIN"),
        load_curve_w=_int(values, "CCASN"),
        injection_curve_w=_int(values, "CCAIN"),
        currents_a=_phases(values, "IRMS"),
        voltages_v=_phases(values, "URMS"),
        average_voltages_v=_phases(values, "UMOY"),
        reference_power_kva=_int(values, "PREF"),
        cutoff_power_kva=_int(values, "PCOUP"),
        overcurrent=status is not None and status.over_reference_power,
        tempo_today=None if status is None else status.tempo_today,
        tempo_tomorrow=None if status is None else status.tempo_tomorrow,
        status=status,
        relays=None if relais is None else tuple(bool(relais >> i & 1) for i in range(8)),
        messages=tuple(m for m in (_text(values, "MSG1"), _text(values, "MSG2")) if m),
        received_at=received_at,
    )


@dataclass(slots=True)
class _Held:
    dataset: Dataset
    missing_frames: int = 0


class MeterTracker:
    """Merge successive frames into MeterState snapshots that do not flicker."""

    def __init__(self) -> None:
        """Start with no knowledge of the meter."""
        self._held: dict[str, _Held] = {}
        self._lower: dict[str, tuple[int, int]] = {}
        self._mode: Mode | None = None
        self.index_regressions_rejected = 0
        self.state: MeterState | None = None

    def update(self, frame: Frame, received_at: datetime | None = None) -> MeterState:
        """Fold one frame into the view and return the new snapshot."""
        if frame.mode is not self._mode:
            self._held.clear()
            self._lower.clear()
            self._mode = frame.mode
        for label in list(self._held):
            if label not in frame.datasets:
                missing = self._held[label]
                missing.missing_frames += 1
                if label in TRANSIENT_LABELS or missing.missing_frames >= STALE_AFTER_FRAMES:
                    del self._held[label]
        for label, dataset in frame.datasets.items():
            held = self._held.get(label)
            if (
                held is not None
                and label in ENERGY_INDEX_LABELS
                and not self._accept_index(label, int(held.dataset.value), int(dataset.value))
            ):
                held.missing_frames = 0
                continue
            self._held[label] = _Held(dataset)
        values = {label: held.dataset for label, held in self._held.items()}
        self.state = state_from_values(frame.mode, values, received_at)
        return self.state

    def _accept_index(self, label: str, old: int, new: int) -> bool:
        if new >= old:
            self._lower.pop(label, None)
            return True
        value, seen = self._lower.get(label, (new, 0))
        seen = seen + 1 if value == new else 1
        if seen >= REGRESSION_CONFIRMATIONS:
            del self._lower[label]
            return True
        self._lower[label] = (new, seen)
        self.index_regressions_rejected += 1
        return False
