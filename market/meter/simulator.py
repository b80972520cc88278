"""A Linky meter that does not exist: realistic frames, correct checksums, real rate.

`MeterSimulator` integrates a consumption curve (and, for a producer, a PV curve)
into energy indexes and renders frames in either mode. Energy is accumulated in
integer W·ms so that the indexes are exact integers of Wh, as a meter's are.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .encoder import encode_frame
from .frame import Mode
from .horodate import PARIS
from .profiles import consumption_w, pv_w
from .sinks import Sink

FRAME_PERIOD_S: dict[tuple[Mode, int], float] = {
    (Mode.HISTORIC, 1): 2.3,
    (Mode.HISTORIC, 3): 2.3,
    (Mode.STANDARD, 1): 0.9,
    (Mode.STANDARD, 3): 1.5,
}
_WMS_PER_WH = 3_600_000


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """What kind of meter to simulate."""

    mode: Mode = Mode.STANDARD
    producer: bool = False
    phases: int = 1
    pv_peak_w: int = 4000
    subscribed_kva: int = 9
    seed: int = 0
    address: str = "021234567890"


class MeterSimulator:
    """Produce successive frames of a simulated meter for a simulated clock."""

    def __init__(self, config: SimulatorConfig, start: datetime) -> None:
        """Start the meter at `start` (timezone-aware) with plausible indexes."""
        if start.tzinfo is None:
            raise ValueError(f"simulator start time must be timezone-aware: {start!r}")
        if config.phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, not {config.phases!r}")
        self.config = config
        self.now = start
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self._import_wms = 12_345_678 * _WMS_PER_WH
        self._export_wms = 2_345_678 * _WMS_PER_WH if config.producer else 0
        self._max_import_va = 0
        self._max_export_va = 0
        self.import_va = 0
        self.export_va = 0
        # a load the profile does not model (the demo's EV charger): W, drawn on top
        self.extra_load_w = 0

    @property
    def period_s(self) -> float:
        """Seconds between two frames of this kind of meter."""
        return FRAME_PERIOD_S[(self.config.mode, self.config.phases)]

    @property
    def import_wh(self) -> int:
        """Energy imported so far (Wh)."""
        return self._import_wms // _WMS_PER_WH

    @property
    def export_wh(self) -> int:
        """Energy injected so far (Wh)."""
        return self._export_wms // _WMS_PER_WH

    def step(self, seconds: float) -> bytes:
        """Advance the clock by `seconds`, integrate power, and return the next frame."""
        ms = round(seconds * 1000)
        self.now += timedelta(milliseconds=ms)
        local = self.now.astimezone(PARIS)
        net = consumption_w(local, self._rng) + self.extra_load_w
        if self.config.producer:
            net -= pv_w(local, self.config.pv_peak_w, self._rng)
        self.import_va = max(net, 0)
        self.export_va = max(-net, 0) if self.config.mode is Mode.STANDARD else 0
        self._import_wms += self.import_va * ms
        self._export_wms += self.export_va * ms
        self._max_import_va = max(self._max_import_va, self.import_va)
        self._max_export_va = max(self._max_export_va, self.export_va)
        if self.config.mode is Mode.HISTORIC:
            return encode_frame(Mode.HISTORIC, self._historic(local))
        return encode_frame(Mode.STANDARD, self._standard(local))

    def _historic(self, local: datetime) -> list[tuple[str, str, str | None]]:
        c = self.config
        amps = -(-self.import_va // 230)
        datasets: list[tuple[str, str, str | None]] = [
            ("ADCO", c.address, None),
            ("OPTARIF", "BASE", None),
            ("ISOUSC", f"{c.subscribed_kva * 5:02d}", None),
            ("BASE", f"{self.import_wh:09d}", None),
            ("PTEC", "TH..", None),
        ]
        if c.phases == 1:
            datasets += [("IINST", f"{amps:03d}", None), ("IMAX", "090", None)]
        else:
            per_phase = -(-amps // 3)
            datasets += [(f"IINST{n}", f"{per_phase:03d}", None) for n in (1, 2, 3)]
            datasets += [(f"IMAX{n}", "060", None) for n in (1, 2, 3)]
            datasets.append(("PMAX", f"{self._max_import_va:05d}", None))
        datasets += [
            ("PAPP", f"{self.import_va:05d}", None),
            ("HHPHC", "A", None),
            ("MOTDETAT", "000000", None),
        ]
        if c.phases == 3:
            datasets.append(("PPOT", "00", None))
        return datasets

    def _standard(self, local: datetime) -> list[tuple[str, str, str | None]]:
        c = self.config
        season = "E" if local.dst() else "H"
        stamp = season + local.strftime("%y%m%d%H%M%S")
        midnight = season + local.strftime("%y%m%d") + "000000"
        amps = -(-(self.import_va + self.export_va) // 230)
        stge = 0x003A0001 | (0x100 if c.producer else 0)
        datasets: list[tuple[str, str, str | None]] = [
            ("ADSC", c.address, None),
            ("VTIC", "02", None),
            ("DATE", "", stamp),
            ("NGTF", "      BASE      ", None),
            ("LTARF", "      BASE      ", None),
            ("EAST", f"{self.import_wh:09d}", None),
            ("EASF01", f"{self.import_wh:09d}", None),
            *((f"EASF{n:02d}", "000000000", None) for n in range(2, 11)),
            ("EASD01", f"{self.import_wh:09d}", None),
            *((f"EASD{n:02d}", "000000000", None) for n in range(2, 5)),
        ]
        if c.producer:
            datasets.append(("EAIT", f"{self.export_wh:09d}", None))
            datasets += [(f"ERQ{n}", "000000000", None) for n in range(1, 5)]
        phases = (1,) if c.phases == 1 else (1, 2, 3)
        per_phase = -(-amps // len(phases))
        datasets += [(f"IRMS{n}", f"{per_phase:03d}", None) for n in phases]
        datasets += [(f"URMS{n}", f"{self._rng.randint(228, 238)}", None) for n in phases]
        datasets += [
            ("PREF", f"{c.subscribed_kva:02d}", None),
            ("PCOUP", f"{c.subscribed_kva:02d}", None),
            ("SINSTS", f"{self.import_va:05d}", None),
        ]
        if c.phases == 3:
            share = self.import_va // 3
            datasets += [(f"SINSTS{n}", f"{share:05d}", None) for n in phases]
        datasets.append(("SMAXSN", f"{self._max_import_va:05d}", midnight))
        if c.producer:
            datasets += [
                ("SINSTI", f"{self.export_va:05d}", None),
                ("SMAXIN", f"{self._max_export_va:05d}", midnight),
            ]
        datasets += [
            ("CCASN", f"{self.import_va:05d}", stamp),
            ("UMOY1", "230", stamp),
            ("STGE", f"{stge:08X}", None),
            ("MSG1", "PAS DE          MESSAGE         ", None),
            ("PRM", "01234567890123", None),
            ("RELAIS", "000", None),
            ("NTARF", "01", None),
            ("NJOURF", "00", None),
            ("NJOURF+1", "00", None),
        ]
        return datasets


async def run_simulator(
    simulator: MeterSimulator,
    sink: Sink,
    *,
    frames: int | None = None,
    period_s: float | None = None,
) -> int:
    """Send frames to `sink` at the meter's rate (or every `period_s`); return frames sent.

    Stops after `frames` frames, or runs until cancelled.
    """
    period = simulator.period_s if period_s is None else period_s
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    sent = 0
    while frames is None or sent < frames:
        # The simulated clock follows the meter's own frame period even when frames
        # are sent faster, so indexes grow as they would in real time.
        sink.write(simulator.step(simulator.period_s))
        sent += 1
        next_at += period
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    return sent
