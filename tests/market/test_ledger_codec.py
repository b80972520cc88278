"""The entry byte layout: the documented test vectors, round trips and garbage."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from market.ledger.codec import (
    HEADER_BYTES,
    decode_entry,
    decode_frames,
    encode_frame,
    encode_header,
    entry_hash,
    verify,
)
from market.ledger.community import Community
from market.ledger.errors import InvalidBodyError, MalformedBatchError
from market.ledger.identity import Identity
from market.ledger.kinds import (
    AdmitBody,
    CancelBody,
    Kind,
    OrderBody,
    ReadingBody,
    SealBody,
    Side,
)
from market.terms import CommunityTerms
from tests.market.ledger_helpers import T0_MS

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _vectors() -> dict[str, bytes]:
    text = PROTOCOL.read_text()
    block = text.split("<!-- vectors:begin -->")[1].split("<!-- vectors:end -->")[0]
    pairs = re.findall(r"^(\w+): ([0-9a-f]+)$", block, flags=re.MULTILINE)
    return {name: bytes.fromhex(value) for name, value in pairs}


def test_documented_vectors_match_the_implementation() -> None:
    v = _vectors()
    identity = Identity(v["seed"])
    assert identity.public_key == v["public_key"]
    assert identity.node_id == v["node_id"].hex()
    community = Community.from_bytes(v["community_descriptor"])
    assert community.community_id == v["community_id"]
    assert community.genesis_members == (identity.public_key,)
    body = OrderBody(1764000900, Side.SELL, 1500, 1952).encode()
    assert body == v["body"]
    assert hashlib.sha256(body).digest() == v["body_hash"]
    header = encode_header(
        Kind.ORDER, v["community_id"], v["public_key"], 1, bytes(32), 1764000123456, body
    )
    assert header == v["header"]
    assert entry_hash(header) == v["entry_hash"]
    assert identity.sign(header) == v["signature"]
    entry = decode_entry(v["frame"])
    assert (entry.header, entry.signature, entry.body) == (header, v["signature"], body)
    assert entry.hash == v["entry_hash"] and entry.verify_signature()


def test_vector_frame_decodes_field_by_field() -> None:
    v = _vectors()
    entry = decode_entry(v["frame"])
    assert (entry.version, entry.kind, entry.seq, entry.timestamp_ms) == (1, 16, 1, 1764000123456)
    assert entry.author == v["public_key"] and entry.prev_hash == bytes(32)
    assert OrderBody.decode(entry.body) == OrderBody(1764000900, Side.SELL, 1500, 1952, 0)
    assert len(entry.header) == HEADER_BYTES == 146


IDENTITY = Identity(b"\x05" * 32)


@given(
    kind=st.integers(0, 255),
    community_id=st.binary(min_size=32, max_size=32),
    seq=st.integers(0, 2**64 - 1),
    prev=st.binary(min_size=32, max_size=32),
    ts=st.integers(0, 2**64 - 1),
    body=st.binary(max_size=300),
)
def test_frames_round_trip_byte_for_byte(
    kind: int, community_id: bytes, seq: int, prev: bytes, ts: int, body: bytes
) -> None:
    header = encode_header(kind, community_id, IDENTITY.public_key, seq, prev, ts, body)
    frame = encode_frame(header, IDENTITY.sign(header), body)
    entry = decode_entry(frame)
    assert entry.raw == frame
    assert (entry.kind, entry.community_id, entry.seq, entry.prev_hash, entry.timestamp_ms) == (
        kind,
        community_id,
        seq,
        prev,
        ts,
    )
    assert entry.body == body and entry.verify_signature()


@given(st.binary(max_size=600))
def test_garbage_never_crashes_the_decoder(data: bytes) -> None:
    try:
        entries, _rejects = decode_frames(data)
    except MalformedBatchError:
        return
    assert sum(len(entry.raw) for entry in entries) <= len(data)
    for entry in entries:
        assert entry.raw in data and len(entry.header) == HEADER_BYTES


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=200))
def test_any_flipped_header_bit_breaks_the_signature(community_id: bytes, body: bytes) -> None:
    header = encode_header(Kind.ORDER, community_id, IDENTITY.public_key, 3, bytes(32), 9, body)
    signature = IDENTITY.sign(header)
    assert verify(IDENTITY.public_key, header, signature)
    for position in (0, 1, 40, 70, 100, 110, 145):
        flipped = bytearray(header)
        flipped[position] ^= 0x01
        assert not verify(IDENTITY.public_key, bytes(flipped), signature)


@given(
    slot=st.integers(1, 2**63),
    side=st.sampled_from(Side),
    energy=st.integers(1, 10**9),
    price=st.integers(0, 10**9),
    expires=st.integers(0, 2**63),
)
def test_order_bodies_round_trip(
    slot: int, side: Side, energy: int, price: int, expires: int
) -> None:
    body = OrderBody(slot, side, energy, price, expires)
    assert OrderBody.decode(body.encode()) == body
    assert len(body.encode()) == 33


def test_other_bodies_round_trip() -> None:
    for body in (
        CancelBody(b"\x01" * 32),
        SealBody(1764000900, b"\x02" * 32, b"\x03" * 32),
        ReadingBody(1764000900, 420, 1337),
        ReadingBody(1764000900, 0, 12, estimated=True),
        AdmitBody(b"\x04" * 32, b"\x05" * 32, b"\x06" * 32, 7, b"\x08" * 64, b"\x09" * 64, "h:1"),
    ):
        assert type(body).decode(body.encode()) == body


@given(st.binary(max_size=80))
def test_body_decoders_refuse_garbage_with_one_error_type(data: bytes) -> None:
    for decoder in (OrderBody, CancelBody, SealBody, ReadingBody, AdmitBody):
        with contextlib.suppress(InvalidBodyError):
            decoder.decode(data)


def test_community_descriptor_is_canonical() -> None:
    keys = [Identity(bytes([i]) * 32).public_key for i in (3, 1, 2)]
    community = Community.create("rue", 5, keys + keys[:1])
    assert list(community.genesis_members) == sorted(set(keys))
    assert Community.from_bytes(community.to_bytes()) == community
    assert Community.from_json(community.to_json()).community_id == community.community_id


def test_terms_are_part_of_the_community_id() -> None:
    keys = [Identity(bytes([i]) * 32).public_key for i in (1, 2)]
    default = Community.create("rue", 5, keys)
    pay_as_bid = Community.create("rue", 5, keys, CommunityTerms(mechanism="pay_as_bid"))
    hourly = Community.create("rue", 5, keys, CommunityTerms(slot_s=3600, gate_lead_s=600))
    assert default.terms == CommunityTerms()
    ids = {c.community_id for c in (default, pay_as_bid, hourly)}
    assert len(ids) == 3
    for community in (pay_as_bid, hourly):
        assert Community.from_bytes(community.to_bytes()) == community
        assert Community.from_json(community.to_json()) == community


@given(
    slot_s=st.sampled_from([60, 300, 900, 3600]),
    floor=st.integers(0, 10**6),
    spread=st.integers(0, 10**6),
    grid_fee=st.integers(0, 10**4),
    mechanism=st.sampled_from(["uniform", "pay_as_bid", "midpoint", "mcafee"]),
    name=st.text(min_size=1, max_size=16),
)
def test_descriptors_with_any_terms_round_trip(
    slot_s: int, floor: int, spread: int, grid_fee: int, mechanism: str, name: str
) -> None:
    terms = CommunityTerms(
        slot_s=slot_s,
        gate_lead_s=30,
        seal_margin_s=10,
        floor=floor,
        ceiling=floor + spread,
        grid_fee=grid_fee,
        mechanism=mechanism,
    )
    community = Community.create(name, T0_MS, [IDENTITY.public_key], terms)
    assert Community.from_bytes(community.to_bytes()) == community
    assert Community.from_json(community.to_json()) == community
