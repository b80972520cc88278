"""Entry byte layout (protocol v1): fixed-size header, signature, body.

Frame  = header_len u16 | body_len u32 | header | signature (64) | body
Header = version u8 | kind u8 | community_id 32 | author 32 | seq u64 | prev_hash 32
         | timestamp_ms u64 | body_hash 32          (146 bytes, big-endian)

The signature covers the header bytes exactly as received; the body is bound through
body_hash = SHA-256(body); the entry hash is SHA-256(header). Nothing is re-encoded
before it is verified, stored or forwarded: the frame bytes are kept as they came.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import NamedTuple

from nacl import bindings
from nacl.exceptions import BadSignatureError

from .errors import MalformedBatchError, RejectReason

VERSION = 1
HEADER = struct.Struct(">BB32s32sQ32sQ32s")
FRAME_PREFIX = struct.Struct(">HI")
HEADER_BYTES = HEADER.size  # 146
SIGNATURE_BYTES = 64
HASH_BYTES = 32
ZERO_HASH = bytes(HASH_BYTES)
MAX_U64 = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard size limits; anything larger is refused before any signature is checked."""

    max_header_bytes: int = 512
    max_body_bytes: int = 65536
    max_batch_bytes: int = 1 << 20
    max_batch_entries: int = 1000


DEFAULT_LIMITS = Limits()


class Entry(NamedTuple):
    """A decoded entry. `raw` is the frame exactly as received; fields are views of it."""

    raw: bytes
    header: bytes
    signature: bytes
    body: bytes
    hash: bytes
    version: int
    kind: int
    community_id: bytes
    author: bytes
    seq: int
    prev_hash: bytes
    timestamp_ms: int
    body_hash: bytes

    def verify_signature(self) -> bool:
        """True when the signature is the author's over the exact header bytes."""
        return verify(self.author, self.header, self.signature)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification that never raises on bad input."""
    try:
        bindings.crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def encode_header(
    kind: int,
    community_id: bytes,
    author: bytes,
    seq: int,
    prev_hash: bytes,
    timestamp_ms: int,
    body: bytes,
) -> bytes:
    """Pack a v1 header for body (the author then signs exactly these bytes)."""
    return HEADER.pack(
        VERSION,
        kind,
        community_id,
        author,
        seq,
        prev_hash,
        timestamp_ms,
        hashlib.sha256(body).digest(),
    )


def encode_frame(header: bytes, signature: bytes, body: bytes) -> bytes:
    """Assemble the wire/storage frame of one entry."""
    return FRAME_PREFIX.pack(len(header), len(body)) + header + signature + body


def entry_hash(header: bytes) -> bytes:
    """The entry's identity: SHA-256 of its header bytes."""
    return hashlib.sha256(header).digest()


def parse_header(header: bytes) -> tuple[int, int, bytes, bytes, int, bytes, int, bytes]:
    """Unpack a v1 header; raises MalformedBatchError when it is not 146 bytes."""
    if len(header) != HEADER_BYTES:
        raise MalformedBatchError(RejectReason.MALFORMED, f"header of {len(header)} bytes")
    fields: tuple[int, int, bytes, bytes, int, bytes, int, bytes] = HEADER.unpack(header)
    return fields


def decode_frames(
    data: bytes, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Entry], list[RejectReason]]:
    """Split a batch into entries.

    Entries whose frame is intact but whose size or version is unacceptable are returned
    as reject reasons (the batch goes on); broken framing raises MalformedBatchError,
    since nothing after the break can be located.
    """
    entries: list[Entry] = []
    rejects: list[RejectReason] = []
    offset = 0
    end = len(data)
    prefix_size = FRAME_PREFIX.size
    unpack_prefix = FRAME_PREFIX.unpack_from
    unpack_header = HEADER.unpack
    sha256 = hashlib.sha256
    while offset < end:
        if end - offset < prefix_size:
            raise MalformedBatchError(RejectReason.MALFORMED, f"truncated frame at {offset}")
        header_len, body_len = unpack_prefix(data, offset)
        start = offset + prefix_size
        sig_start = start + header_len
        body_start = sig_start + SIGNATURE_BYTES
        frame_end = body_start + body_len
        if frame_end > end:
            raise MalformedBatchError(
                RejectReason.MALFORMED, f"frame at {offset} runs past the batch end"
            )
        if header_len > limits.max_header_bytes:
            rejects.append(RejectReason.HEADER_SIZE)
        elif body_len > limits.max_body_bytes:
            rejects.append(RejectReason.BODY_SIZE)
        elif header_len != HEADER_BYTES or data[start] != VERSION:
            rejects.append(RejectReason.VERSION)
        else:
            header = data[start:sig_start]
            fields = unpack_header(header)
            entries.append(
                Entry(
                    data[offset:frame_end],
                    header,
                    data[sig_start:body_start],
                    data[body_start:frame_end],
                    sha256(header).digest(),
                    *fields,
                )
            )
        offset = frame_end
    return entries, rejects


def decode_entry(frame: bytes, limits: Limits = DEFAULT_LIMITS) -> Entry:
    """Decode exactly one frame; raises MalformedBatchError for anything else."""
    entries, rejects = decode_frames(frame, limits)
    if rejects:
        raise MalformedBatchError(rejects[0], "entry refused by size or version")
    if len(entries) != 1:
        raise MalformedBatchError(RejectReason.MALFORMED, f"{len(entries)} frames, expected 1")
    return entries[0]
