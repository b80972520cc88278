"""Every real capture decodes with the right mode, frame count and values.

Expected values are copied from the capture bytes (see `od -c` of each file), not
from the decoder; `_datasets_by_hand` is a second, naive reading of the bytes used
to check that nothing valid is lost and nothing invented.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from market.meter.checksum import checksum_char
from market.meter.decoder import BadReason, TicDecoder
from market.meter.frame import Frame, Mode
from market.meter.horodate import Season

DATA = Path(__file__).parent / "data" / "tic"

CAPTURES: dict[str, tuple[Mode, int, int]] = {
    # file: (mode, complete frames, datasets in the (first) frame)
    "hist_1p_tempo_real_1.bin": (Mode.HISTORIC, 1, 16),
    "hist_1p_hc_fixture.bin": (Mode.HISTORIC, 1, 11),
    "hist_3p_base_real_1.bin": (Mode.HISTORIC, 1, 16),
    "std_1p_base_real_1.bin": (Mode.STANDARD, 1, 38),
    "std_3p_tempo_teleinfonom.bin": (Mode.STANDARD, 1, 55),
    "std_1p_prod_openhab_1.bin": (Mode.STANDARD, 1, 46),
    "std_3p_noisy_stream.bin": (Mode.STANDARD, 7, 55),
}


def decode(name: str) -> tuple[list[Frame], TicDecoder]:
    decoder = TicDecoder()
    return decoder.feed((DATA / name).read_bytes()), decoder


def _datasets_by_hand(raw: bytes) -> list[tuple[str, str]]:
    """Split a single clean frame by its separators, independently of the decoder."""
    body = raw[raw.index(b"\x02") + 1 : raw.index(b"\x03")]
    out = []
    for line in body.split(b"\n")[1:]:
        if not line.endswith(b"\r"):
            continue
        dataset = line[:-1]
        sep = b"\t" if b"\t" in dataset else b" "
        label, _, rest = dataset[:-2].partition(sep)
        data = rest.rpartition(sep)[2] if sep == b"\t" else rest
        out.append((label.decode(), data.decode()))
    return out


def test_capture_set_is_complete() -> None:
    assert sorted(p.name for p in DATA.glob("*.bin")) == sorted(CAPTURES)


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_mode_and_frame_count(name: str) -> None:
    mode, count, first_size = CAPTURES[name]
    frames, decoder = decode(name)
    assert len(frames) == count
    assert decoder.stats.frames == count
    assert {f.mode for f in frames} == {mode}
    assert len(frames[0].datasets) == first_size


@pytest.mark.parametrize("name", sorted(n for n in CAPTURES if "noisy" not in n))
def test_clean_capture_keeps_every_dataset_with_its_bytes(name: str) -> None:
    raw = (DATA / name).read_bytes()
    (frame,), decoder = decode(name)
    assert decoder.stats.datasets_bad_total == 0
    assert [(d.label, d.value) for d in frame.datasets.values()] == _datasets_by_hand(raw)


def test_historic_hc_fixture_values_and_space_checksums() -> None:
    (frame,), _ = decode("hist_1p_hc_fixture.bin")
    assert frame.get("ADCO") == "050022120078"
    assert frame.get("OPTARIF") == "HC.."
    assert frame.get("ISOUSC") == "45"
    assert frame.get("HCHC") == "094939439"
    assert frame.get("HCHP") == "127970334"
    # `PTEC HP..  ` and `IINST 009  `: the checksum character is a space.
    assert frame.get("PTEC") == "HP.."
    assert frame.get("IINST") == "009"
    assert checksum_char(b"PTEC HP..") == 0x20
    assert frame.get("PAPP") == "02160"
    assert frame.get("MOTDETAT") == "400000"


def test_historic_tempo_values() -> None:
    (frame,), _ = decode("hist_1p_tempo_real_1.bin")
    assert frame.get("OPTARIF") == "BBR("
    assert frame.get("BBRHCJB") == "018328856"
    assert frame.get("BBRHPJB") == "023739545"
    assert frame.get("BBRHCJW") == "001466099"
    assert frame.get("BBRHPJR") == "000844115"
    assert frame.get("PTEC") == "HCJB"
    assert frame.get("DEMAIN") == "ROUG"
    assert frame.get("PAPP") == "02840"


def test_historic_three_phase_with_cr_lf_layout() -> None:
    (frame,), decoder = decode("hist_3p_base_real_1.bin")
    assert decoder.stats.datasets_bad_total == 0
    assert frame.get("BASE") == "010151175"
    assert [frame.get(f"IINST{n}") for n in (1, 2, 3)] == ["000", "002", "000"]
    assert frame.get("PMAX") == "02680"
    assert frame.get("PPOT") == "00"


def test_standard_base_values_and_horodates() -> None:
    (frame,), _ = decode("std_1p_base_real_1.bin")
    assert frame.get("EAST") == "011887649"
    assert frame.get("NGTF") == "      BASE      "  # data with spaces is kept verbatim
    date = frame.datasets["DATE"]
    assert date.value == ""
    assert date.horodate is not None
    assert date.horodate.raw == "H230301091834"
    assert date.horodate.season is Season.WINTER
    assert date.horodate.at.isoformat() == "2023-03-01T09:18:34+01:00"
    smax = frame.datasets["SMAXSN"]
    assert smax.value == "01024"
    assert smax.horodate is not None and smax.horodate.raw == "H230301065253"
    assert frame.get("STGE") == "003A0001"
    assert frame.get("MSG1") == "PAS DE          MESSAGE         "


def test_standard_tempo_mobile_peak_horodate_with_space_season() -> None:
    (frame,), _ = decode("std_3p_tempo_teleinfonom.bin")
    dpm = frame.datasets["DPM1"]
    assert dpm.value == "00"
    assert dpm.horodate is not None
    assert dpm.horodate.season is None
    assert dpm.horodate.at.isoformat() == "2020-02-14T06:00:00+01:00"
    assert frame.get("SMAXSN-1") == "09562"  # its checksum is a space
    assert frame.get("STGE") == "463A0800"
    assert frame.get("PJOURF+1") == "00004001 06004002 22004001" + " NONUTILE" * 8


def test_producer_frame_values() -> None:
    (frame,), _ = decode("std_1p_prod_openhab_1.bin")
    assert frame.get("EAIT") == "000032781"
    assert frame.get("SINSTI") == "01253"
    assert frame.get("NGTF") == "PRODUCTEUR"
    assert frame.get("LTARF") == "INDEX NON CONSO "
    smaxin = frame.datasets["SMAXIN"]
    assert smaxin.value == "01423"
    assert smaxin.horodate is not None
    assert smaxin.horodate.season is Season.SUMMER
    assert smaxin.horodate.at.isoformat() == "2018-07-16T10:33:16+02:00"


def test_noisy_stream_drops_and_counts_bad_datasets() -> None:
    frames, decoder = decode("std_3p_noisy_stream.bin")
    stats = decoder.stats
    assert stats.frames == 7
    assert stats.datasets_bad_total == 12
    # Bit errors and spaces for digits fail the checksum; 0x0C for CR leaves the
    # dataset unterminated.
    assert stats.datasets_bad == {BadReason.CHECKSUM: 10, BadReason.UNTERMINATED: 2}
    assert sum(f.bad_datasets for f in frames) == 12
    assert [len(f.datasets) + f.bad_datasets for f in frames] == [55] * 7
    by_date = {f.datasets["DATE"].horodate.raw: f for f in frames}  # type: ignore[union-attr]
    assert sorted(by_date) == [
        "H200214230804",
        "H200214230806",
        "H200214230807",
        "H200214230809",
        "H200214230810",
        "H200214230812",
        "H200214230814",
    ]
    # Each corrupted dataset (seen in the bytes) is absent, never a wrong value.
    assert "EASD01" not in by_date["H200214230806"].datasets  # `@` then 0x0C, no CR
    f807 = by_date["H200214230807"].datasets
    assert "EASF06" not in f807 and "EASF09" not in f807 and "EASD02" not in f807
    assert by_date["H200214230807"].get("SINSTS") == "02695"  # checksum `\` is right
    f809 = by_date["H200214230809"]
    assert f809.get("NTARF") is None  # ` 3`
    assert f809.get("CCASN-1") is None  # label `CC@SN-1`
    assert "CC@SN-1" not in f809.datasets
    f810 = by_date["H200214230810"]
    assert f810.get("EASF07") is None and f810.get("FPM1") is None
    assert f810.get("SMAXSN2-1") is None
    f812 = by_date["H200214230812"]
    assert f812.get("PCOUP") is None and f812.get("SINSTS1") is None
    assert f812.get("CCASN") is None
    # The good datasets around them are intact.
    assert [f.get("EAST") for f in frames] == [
        "021849106",
        "021849107",
        "021849107",
        "021849108",
        "021849108",
        "021849109",
        "021849109",
    ]
    assert f809.get("SINSTS") == "02699"  # its checksum is a space


def test_noisy_stream_skips_the_partial_frames_at_both_ends() -> None:
    raw = (DATA / "std_3p_noisy_stream.bin").read_bytes()
    _, decoder = decode("std_3p_noisy_stream.bin")
    assert decoder.stats.bytes_skipped == raw.index(b"\x02")
    # The trailing partial frame is still pending, not emitted nor counted.
    assert decoder.feed(b"") == []
    assert decoder.stats.frames == 7
