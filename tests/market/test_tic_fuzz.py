"""Fuzzing the decoder: it never raises, and never emits a value whose checksum failed."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.meter.decoder import TicDecoder
from market.meter.encoder import encode_dataset, encode_frame
from market.meter.frame import Frame, Mode

DATA = Path(__file__).parent / "data" / "tic"
CAPTURES = [p.read_bytes() for p in sorted(DATA.glob("*.bin"))]

_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
# Unknown labels (no real label starts with Z) carry any printable text.
_LABEL = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-", max_size=9).map(
    lambda s: "Z" + s
)
_KNOWN: dict[Mode, list[tuple[str, str, str | None]]] = {
    Mode.HISTORIC: [("BASE", "012345678", None), ("PTEC", "HP..", None), ("PAPP", "02160", None)],
    Mode.STANDARD: [
        ("EAST", "000012345", None),
        ("SMAXSN", "01024", "H230301065253"),
        ("STGE", "003A0001", None),
        ("DATE", "", "E240601120000"),
        ("MSG1", "PAS DE   MESSAGE", None),
    ],
}
_HORODATE = st.builds(
    lambda s, y, mo, d, h, mi, se: f"{s}{y:02d}{mo:02d}{d:02d}{h:02d}{mi:02d}{se:02d}",
    st.sampled_from("HEhe "),
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)


@st.composite
def _frame(draw: st.DrawFn) -> tuple[Mode, list[tuple[str, str, str | None]]]:
    mode = draw(st.sampled_from(Mode))
    datasets: list[tuple[str, str, str | None]] = []
    for label in draw(st.lists(_LABEL, min_size=1, max_size=8, unique=True)):
        value = draw(_TEXT.filter(lambda v: "\t" not in v))
        if mode is Mode.HISTORIC:
            datasets.append((label, value.replace(" ", ""), None))
        else:
            datasets.append((label, value, draw(st.none() | _HORODATE)))
    known = draw(st.lists(st.sampled_from(_KNOWN[mode]), max_size=3, unique=True))
    return mode, datasets + known


_MASK = bytes(b & 0x7F for b in range(256))


def _assert_genuine(stream: bytes, frames: list[Frame]) -> None:
    """Every emitted dataset occurs, checksum and all, in the (7-bit) input bytes."""
    masked = stream.translate(_MASK)
    for frame in frames:
        for dataset in frame.datasets.values():
            horodate = None if dataset.horodate is None else dataset.horodate.raw
            encoded = encode_dataset(frame.mode, dataset.label, dataset.value, horodate)
            assert encoded in masked


def _feed_split(stream: bytes, cuts: list[int]) -> list[Frame]:
    decoder = TicDecoder()
    frames: list[Frame] = []
    previous = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts):
        frames += decoder.feed(stream[previous:cut])
        previous = cut
    return frames + decoder.feed(stream[previous:])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data: bytes) -> None:
    _assert_genuine(data, TicDecoder().feed(data))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(b"\x02\x03\x04\n\r\t 0123456789ABCDEFGHIJ@"), max_size=2000).map(bytes)
)
def test_random_protocol_alphabet_never_raises(data: bytes) -> None:
    _assert_genuine(data, TicDecoder().feed(data))


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(_frame(), min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_valid_frames_survive_any_split(
    frames: list[tuple[Mode, list[tuple[str, str, str | None]]]], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(mode, datasets) for mode, datasets in frames)
    decoded = _feed_split(stream, cuts)
    assert len(decoded) == len(frames)
    for (mode, datasets), frame in zip(frames, decoded, strict=True):
        assert frame.mode is mode
        assert {label: value for label, value, _ in datasets} == {
            d.label: d.value for d in frame.datasets.values()
        }


@settings(max_examples=300, deadline=None)
@given(
    capture=st.sampled_from(CAPTURES),
    corruptions=st.lists(
        st.tuples(st.integers(0, 20_000), st.integers(0, 255)), min_size=1, max_size=12
    ),
    cuts=st.lists(st.integers(0, 20_000), max_size=10),
)
def test_corrupted_captures_never_emit_a_bad_value(
    capture: bytes, corruptions: list[tuple[int, int]], cuts: list[int]
) -> None:
    data = bytearray(capture)
    for position, byte in corruptions:
        data[position % len(data)] = byte
    stream = bytes(data)
    frames = _feed_split(stream, cuts)
    assert frames == TicDecoder().feed(stream)
    _assert_genuine(stream, frames)
