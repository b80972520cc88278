"""Equivocation proofs: two headers signed by one author for the same seq.

The signed headers alone prove the fault (bodies are not needed), so a proof is small,
and anyone holding the community id can check it without any other context.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Self

from .codec import HEADER_BYTES, SIGNATURE_BYTES, Entry, parse_header, verify
from .errors import InvalidBodyError, MalformedBatchError

_LEN = struct.Struct(">H")
_HALF = _LEN.size + HEADER_BYTES + SIGNATURE_BYTES


@dataclass(frozen=True, slots=True, repr=False)
class EquivocationProof:
    """Two signed headers of one author with the same seq; header_a < header_b."""

    header_a: bytes
    signature_a: bytes
    header_b: bytes
    signature_b: bytes

    @classmethod
    def from_entries(cls, first: Entry, second: Entry) -> Self:
        """Build the canonical proof from two conflicting entries."""
        pair = sorted([(first.header, first.signature), (second.header, second.signature)])
        return cls(pair[0][0], pair[0][1], pair[1][0], pair[1][1])

    def encode(self) -> bytes:
        """Body bytes of an `equivocation` entry."""
        return b"".join(
            (
                _LEN.pack(len(self.header_a)),
                self.header_a,
                self.signature_a,
                _LEN.pack(len(self.header_b)),
                self.header_b,
                self.signature_b,
            )
        )

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Split a proof body; checks layout only (see check())."""
        if len(body) != 2 * _HALF:
            raise InvalidBodyError(f"equivocation body must be {2 * _HALF} bytes: {len(body)}")
        (len_a,) = _LEN.unpack_from(body, 0)
        (len_b,) = _LEN.unpack_from(body, _HALF)
        if len_a != HEADER_BYTES or len_b != HEADER_BYTES:
            raise InvalidBodyError(f"equivocation header lengths {len_a}, {len_b}")
        a = _LEN.size
        b = _HALF + _LEN.size
        return cls(
            body[a : a + HEADER_BYTES],
            body[a + HEADER_BYTES : _HALF],
            body[b : b + HEADER_BYTES],
            body[b + HEADER_BYTES :],
        )

    def __repr__(self) -> str:
        return f"EquivocationProof(author={self.author.hex()}, seq={self.seq})"

    @property
    def author(self) -> bytes:
        """The equivocating author's key."""
        return parse_header(self.header_a)[3]

    @property
    def seq(self) -> int:
        """The seq signed twice."""
        return parse_header(self.header_a)[4]

    def check(self, community_id: bytes) -> None:
        """Raise InvalidBodyError unless this really proves an equivocation."""
        try:
            a = parse_header(self.header_a)
            b = parse_header(self.header_b)
        except MalformedBatchError as err:
            raise InvalidBodyError(f"equivocation header: {err}") from err
        if not self.header_a < self.header_b:
            raise InvalidBodyError("equivocation headers must differ and be in byte order")
        if a[2] != community_id or b[2] != community_id:
            raise InvalidBodyError("equivocation headers are from another community")
        if a[3] != b[3] or a[4] != b[4]:
            raise InvalidBodyError("equivocation headers differ in author or seq")
        if not verify(a[3], self.header_a, self.signature_a) or not verify(
            b[3], self.header_b, self.signature_b
        ):
            raise InvalidBodyError("equivocation header signature is invalid")
