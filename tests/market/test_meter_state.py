"""Typed meter values: units, tariffs, Tempo, STGE, and a state that does not flicker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from market.meter.decoder import TicDecoder
from market.meter.encoder import encode_frame
from market.meter.frame import Frame, Mode
from market.meter.horodate import Season, parse_horodate
from market.meter.state import REGRESSION_CONFIRMATIONS, MeterTracker, state_from_values
from market.meter.stge import CutoffState, TempoColour, decode_stge

DATA = Path(__file__).parent / "data" / "tic"


def state_of(name: str) -> tuple[Frame, MeterTracker]:
    tracker = MeterTracker()
    frames = TicDecoder().feed((DATA / name).read_bytes())
    for frame in frames:
        tracker.update(frame)
    return frames[-1], tracker


def frame(mode: Mode, *datasets: tuple[str, str, str | None]) -> Frame:
    (decoded,) = TicDecoder(mode).feed(encode_frame(mode, datasets))
    return decoded


def test_historic_tempo_state() -> None:
    _, tracker = state_of("hist_1p_tempo_real_1.bin")
    s = tracker.state
    assert s is not None
    assert s.mode is Mode.HISTORIC
    assert s.import_indexes_wh["BBRHCJB"] == 18_328_856
    assert s.import_wh == 18328856 + 23739545 + 1466099 + 2132883 + 860118 + 844115
    assert s.apparent_power_va == 2840
    assert s.currents_a == (12, None, None)
    assert s.subscribed_current_a == 30
    assert s.tariff_period == "HCJB" and s.off_peak is True
    assert s.tempo_today is TempoColour.BLUE
    assert s.tempo_tomorrow is TempoColour.RED


def test_historic_three_phase_state_and_overcurrent_short_frame() -> None:
    _, tracker = state_of("hist_3p_base_real_1.bin")
    s = tracker.state
    assert s is not None
    assert s.phases == 3
    assert s.currents_a == (0, 2, 0)
    assert s.max_power_today_va == 2680
    assert s.off_peak is None  # TH..: all hours
    # During an overcurrent a three-phase meter sends short frames with ADIR.
    short = frame(
        Mode.HISTORIC,
        ("ADIR1", "062", None),
        ("ADCO", "056234673197", None),
        ("IINST1", "062", None),
        ("IINST2", "002", None),
        ("IINST3", "000", None),
    )
    s = tracker.update(short)
    assert s.overcurrent is True
    assert s.overcurrent_phases_a == (62, None, None)
    assert s.import_wh == 10_151_175  # indexes carried over from the full frame
    s = tracker.update(TicDecoder().feed((DATA / "hist_3p_base_real_1.bin").read_bytes())[0])
    assert s.overcurrent is False  # ADIR is transient


def test_standard_three_phase_tempo_state() -> None:
    _, tracker = state_of("std_3p_tempo_teleinfonom.bin")
    s = tracker.state
    assert s is not None
    assert s.phases == 3
    assert s.import_wh == 21_849_106
    assert s.import_indexes_wh["EASF02"] == 14_090_959
    assert s.distributor_indexes_wh["EASD01"] == 21_849_106
    assert s.voltages_v == (237, 238, 235)
    assert s.currents_a == (3, 6, 3)
    assert s.apparent_power_va == 2700
    assert s.phase_apparent_power_va == (664, 1373, 664)
    assert s.max_power_today_va == 10_802
    assert s.reference_power_kva == 30
    assert s.tariff_option == "TEMPO"
    assert s.tariff_period == "HC BLANC" and s.off_peak is True
    assert s.tariff_index == 3
    assert s.tempo_today is TempoColour.WHITE
    assert s.tempo_tomorrow is TempoColour.BLUE
    assert s.relays == (True, False, False, False, False, False, False, False)
    assert s.messages == ("PAS DE MESSAGE",)
    assert s.meter_time is not None
    assert s.meter_time.at == datetime(2020, 2, 14, 22, 8, 4, tzinfo=UTC)


def test_producer_state() -> None:
    _, tracker = state_of("std_1p_prod_openhab_1.bin")
    s = tracker.state
    assert s is not None
    assert s.producer is True
    assert s.export_wh == 32_781
    assert s.injected_power_va == 1253
    assert s.max_injected_power_today_va == 1423
    assert s.reactive_varh == (0, 890, 2546, 0)
    assert s.surplus_power_va == 1253
    assert s.status is not None and s.status.negative_active_energy


def test_stge_fields_match_the_captures() -> None:
    base = decode_stge(0x003A0001)
    assert base.dry_contact_open and base.standard_mode and not base.producer
    assert base.cutoff is CutoffState.CLOSED
    assert base.euridis == 3 and base.cpl_status == 1
    tempo = decode_stge(0x463A0800)
    assert tempo.supplier_tariff_index == 2  # NTARF 03
    assert tempo.tempo_today is TempoColour.WHITE
    assert tempo.tempo_tomorrow is TempoColour.BLUE
    assert tempo.mobile_peak_active == 1
    producer = decode_stge(0x002A0301)
    assert producer.producer and producer.negative_active_energy


@given(st.integers(0, 2**32 - 1))
def test_stge_fields_recompose_the_register(raw: int) -> None:
    s = decode_stge(raw)
    rebuilt = (
        int(s.dry_contact_open)
        | s.cutoff << 1
        | int(s.cover_open) << 4
        | int(s.overvoltage) << 6
        | int(s.over_reference_power) << 7
        | int(s.producer) << 8
        | int(s.negative_active_energy) << 9
        | s.supplier_tariff_index << 10
        | s.distributor_tariff_index << 14
        | int(s.clock_degraded) << 16
        | int(s.standard_mode) << 17
        | s.euridis << 19
        | s.cpl_status << 21
        | int(s.cpl_synchronised) << 23
        | s.tempo_today << 24
        | s.tempo_tomorrow << 26
        | s.mobile_peak_notice << 28
        | s.mobile_peak_active << 30
    )
    unused = (1 << 5) | (1 << 18)
    assert rebuilt == raw & ~unused


def test_horodate_season_fold_and_degraded_clock() -> None:
    # 2023-10-29 02:30 happens twice in Paris: E is summer time, H winter time.
    summer = parse_horodate("E231029023000")
    winter = parse_horodate("H231029023000")
    assert summer.at.utcoffset() is not None and winter.at.utcoffset() is not None
    assert summer.at.astimezone(UTC).hour == 0
    assert winter.at.astimezone(UTC).hour == 1
    degraded = parse_horodate("h240101000000")
    assert degraded.degraded and degraded.season is Season.WINTER
    assert parse_horodate(" 200214060000").season is None


def test_bad_datasets_do_not_blank_values() -> None:
    tracker = MeterTracker()
    full = frame(Mode.STANDARD, ("EAST", "000001000", None), ("SINSTS", "00500", None))
    tracker.update(full)
    # The next frame lost EAST to a bad checksum: the index keeps its last value.
    s = tracker.update(frame(Mode.STANDARD, ("SINSTS", "00600", None)))
    assert s.import_wh == 1000
    assert s.apparent_power_va == 600


def test_an_index_never_drops_on_one_frames_word() -> None:
    tracker = MeterTracker()
    tracker.update(frame(Mode.HISTORIC, ("BASE", "000005000", None)))
    s = tracker.update(frame(Mode.HISTORIC, ("BASE", "000000000", None)))
    assert s.import_wh == 5000
    assert tracker.index_regressions_rejected == 1
    for _ in range(REGRESSION_CONFIRMATIONS - 1):
        s = tracker.update(frame(Mode.HISTORIC, ("BASE", "000000010", None)))
    assert s.import_wh == 5000
    s = tracker.update(frame(Mode.HISTORIC, ("BASE", "000000010", None)))
    assert s.import_wh == 10  # a replaced meter, confirmed frame after frame


def test_pilot_meter_labels_map_to_the_same_values() -> None:
    s = state_from_values(
        Mode.STANDARD,
        frame(
            Mode.STANDARD, ("SINST1", "00480", None), ("SMAXN", "03010", "H240101120000")
        ).datasets,
    )
    assert s.apparent_power_va == 480
    assert s.max_power_today_va == 3010
