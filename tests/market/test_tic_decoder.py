"""Streaming behaviour of the TIC decoder: splits, EOT, partial frames, 8N1, modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from market.meter.checksum import checksum_char, historic_checksum, standard_checksum
from market.meter.decoder import MAX_FRAME_BYTES, BadReason, TicDecoder
from market.meter.encoder import encode_dataset, encode_frame
from market.meter.frame import Frame, Mode

DATA = Path(__file__).parent / "data" / "tic"
CAPTURES = sorted(DATA.glob("*.bin"))


def _frames_in_chunks(raw: bytes, size: int) -> tuple[list[Frame], TicDecoder]:
    decoder = TicDecoder()
    frames: list[Frame] = []
    for start in range(0, len(raw), size):
        frames += decoder.feed(raw[start : start + size])
    return frames, decoder


@pytest.mark.parametrize(
    ("between_lf_and_cr", "expected"),
    [
        (b"ISOUSC 30 9", "9"),
        (b"PTEC HP..  ", " "),
        (b"VTIC\t02\tJ", "J"),
        (b"SMAXSN\tH230301065253\t01024\t2", "2"),
        (b"DATE\tH230301091834\t\tC", "C"),
        (b"DPM1\t 200214060000\t00\t\\", "\\"),
    ],
)
def test_domain_checksum_vectors(between_lf_and_cr: bytes, expected: str) -> None:
    if b"\t" in between_lf_and_cr:
        assert checksum_char(between_lf_and_cr[:-1]) == ord(expected)
    else:
        assert checksum_char(between_lf_and_cr[:-2]) == ord(expected)
    frames = TicDecoder().feed(b"\x02\n" + between_lf_and_cr + b"\r\x03")
    assert len(frames) == 1


def test_checksum_helpers_match_the_encoder() -> None:
    assert historic_checksum(b"ISOUSC", b"30") == ord("9")
    assert standard_checksum(b"VTIC", None, b"02") == ord("J")
    assert standard_checksum(b"DATE", b"H230301091834", b"") == ord("C")
    assert encode_dataset(Mode.STANDARD, "DATE", "", "H230301091834") == (
        b"\nDATE\tH230301091834\t\tC\r"
    )


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_chunk_size_gives_the_same_frames(path: Path) -> None:
    raw = path.read_bytes()
    whole, reference = _frames_in_chunks(raw, len(raw))
    # Every size up to two frames' length; beyond that a chunk holds whole frames
    # and sampled sizes cover the remaining boundaries.
    sizes = [*range(1, min(len(raw), 2600) + 1), *range(2601, len(raw) + 1, 61)]
    for size in sizes:
        frames, decoder = _frames_in_chunks(raw, size)
        assert frames == whole, size
        assert decoder.stats == reference.stats, size


def test_first_partial_frame_is_discarded() -> None:
    frame = encode_frame(Mode.STANDARD, [("VTIC", "02", None), ("EAST", "000001000", None)])
    # Start listening in the middle of a frame: its tail must not become a frame.
    tail = frame[len(frame) // 2 :]
    decoder = TicDecoder()
    assert decoder.feed(tail) == []
    frames = decoder.feed(frame)
    assert [f.get("EAST") for f in frames] == ["000001000"]
    assert decoder.stats.frames == 1


def test_eot_aborts_the_current_frame() -> None:
    first = encode_frame(Mode.HISTORIC, [("PAPP", "01000", None), ("BASE", "000000100", None)])
    second = encode_frame(Mode.HISTORIC, [("PAPP", "02000", None)])
    decoder = TicDecoder()
    frames = decoder.feed(first[:-8] + b"\x04" + first[-8:] + second)
    assert [f.get("PAPP") for f in frames] == ["02000"]
    assert decoder.stats.frames_aborted == 1


def test_stx_inside_a_frame_restarts_it() -> None:
    good = encode_frame(Mode.HISTORIC, [("PAPP", "00500", None)])
    decoder = TicDecoder()
    assert [f.get("PAPP") for f in decoder.feed(good[:-3] + good)] == ["00500"]
    assert decoder.stats.frames_incomplete == 1


def test_eight_n_one_bytes_are_masked() -> None:
    raw = (DATA / "std_1p_base_real_1.bin").read_bytes()
    with_parity = bytes(b | 0x80 if i % 3 else b for i, b in enumerate(raw))
    assert TicDecoder().feed(with_parity) == TicDecoder().feed(raw)


def test_runaway_frame_is_bounded() -> None:
    decoder = TicDecoder()
    decoder.feed(b"\x02" + b"\nPAPP 00500 ," * (MAX_FRAME_BYTES // 10))
    assert decoder.stats.frames_incomplete == 1
    frames = decoder.feed(encode_frame(Mode.HISTORIC, [("PAPP", "00500", None)]))
    assert [f.get("PAPP") for f in frames] == ["00500"]


def test_fixed_mode_drops_datasets_of_the_other_mode() -> None:
    historic = (DATA / "hist_1p_tempo_real_1.bin").read_bytes()
    decoder = TicDecoder(Mode.STANDARD)
    assert decoder.feed(historic) == []
    assert decoder.stats.datasets_bad == {BadReason.WRONG_MODE: 16}
    assert decoder.stats.frames_empty == 1


def test_mode_is_detected_per_frame() -> None:
    decoder = TicDecoder()
    seen = []
    for name in ("hist_1p_hc_fixture.bin", "std_1p_base_real_1.bin"):
        decoder.feed((DATA / name).read_bytes())
        seen.append(decoder.mode)
    assert seen == [Mode.HISTORIC, Mode.STANDARD]


@pytest.mark.parametrize(
    ("dataset", "reason"),
    [
        (encode_dataset(Mode.STANDARD, "EAST", "00001 000"), BadReason.BAD_VALUE),
        (encode_dataset(Mode.STANDARD, "STGE", "003a0001"), BadReason.BAD_VALUE),
        (encode_dataset(Mode.STANDARD, "SMAXSN", "01024"), BadReason.BAD_HORODATE),
        (encode_dataset(Mode.STANDARD, "EAST", "1", "H230301091834"), BadReason.BAD_HORODATE),
        (encode_dataset(Mode.STANDARD, "SMAXSN", "01024", "H231301065253"), BadReason.BAD_HORODATE),
        (encode_dataset(Mode.STANDARD, "SMAXSN", "01024", "X230301065253"), BadReason.BAD_HORODATE),
        (encode_dataset(Mode.STANDARD, "ea st", "1"), BadReason.BAD_LABEL),
        (b"\nA\tB\tC\tD\t" + bytes((checksum_char(b"A\tB\tC\tD\t"),)) + b"\r", BadReason.MALFORMED),
        (b"\nEAST\t000001000 .\r", BadReason.MALFORMED),
        (b"\nPAPP00500\r", BadReason.MALFORMED),
        (encode_dataset(Mode.HISTORIC, "PAPP", "0500A"), BadReason.BAD_VALUE),
        (b"\nPAPP 00500 -\r", BadReason.CHECKSUM),
        (b"\nEAST\t000001000\t-\x0c", BadReason.UNTERMINATED),
    ],
)
def test_malformed_datasets_are_dropped_by_reason(dataset: bytes, reason: BadReason) -> None:
    mode = Mode.HISTORIC if b"\t" not in dataset else Mode.STANDARD
    keep = encode_dataset(mode, "VTIC" if mode is Mode.STANDARD else "PAPP", "02")
    decoder = TicDecoder(mode)
    (frame,) = decoder.feed(b"\x02" + dataset + keep + b"\x03")
    assert len(frame.datasets) == 1
    assert frame.bad_datasets == 1
    assert decoder.stats.datasets_bad == {reason: 1}


def test_unknown_labels_pass_as_text() -> None:
    frame = encode_frame(
        Mode.STANDARD, [("NEWLBL", "abc def", None), ("NEWH", "1", "E240601120000")]
    )
    (decoded,) = TicDecoder().feed(frame)
    assert decoded.get("NEWLBL") == "abc def"
    assert decoded.datasets["NEWH"].horodate is not None


def test_pilot_meter_labels_are_known() -> None:
    frame = encode_frame(
        Mode.STANDARD, [("SINST1", "00480", None), ("SMAXN", "03010", "H240101120000")]
    )
    (decoded,) = TicDecoder().feed(frame)
    assert decoded.get("SINST1") == "00480"
    assert decoded.get("SMAXN") == "03010"


def test_json_shape_of_a_frame() -> None:
    (frame,) = TicDecoder().feed((DATA / "std_1p_base_real_1.bin").read_bytes())
    obj = frame.to_json_obj()
    assert obj["mode"] == "standard"
    values = obj["values"]
    assert isinstance(values, dict)
    assert values["EAST"] == "011887649"
    assert values["DATE"] == {"horodate": "H230301091834", "value": ""}
