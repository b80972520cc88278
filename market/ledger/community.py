"""The community descriptor: the root of trust that names the genesis members and the
market terms.

Its canonical bytes are hashed into the community id that every entry header carries,
so two nodes with different descriptors (members or terms) can never accept each
other's entries. Later members join through `admit` entries written by existing
members (see membership.py).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from .. import jsontext
from ..terms import CommunityTerms, InvalidCommunityTermsError
from .errors import InvalidCommunityError

DESCRIPTOR_VERSION = 2
MAX_NAME_BYTES = 64
MAX_GENESIS_MEMBERS = 1024
KEY_BYTES = 32
TERMS_BYTES = CommunityTerms.LAYOUT.size
DEFAULT_TERMS = CommunityTerms()

_FIXED = struct.Struct(">BB")
_CREATED = struct.Struct(">Q")
_COUNT = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class Community:
    """A community: a name, a creation time, the genesis member keys (sorted, unique)
    and the market terms every member trades under."""

    name: str
    created_ms: int
    genesis_members: tuple[bytes, ...]
    terms: CommunityTerms = DEFAULT_TERMS

    def __post_init__(self) -> None:
        name_bytes = self.name.encode()
        if not 1 <= len(name_bytes) <= MAX_NAME_BYTES:
            raise InvalidCommunityError(f"community name must be 1..64 bytes: {self.name!r}")
        if not 0 <= self.created_ms < 2**64:
            raise InvalidCommunityError(f"created_ms out of range: {self.created_ms}")
        members = self.genesis_members
        if not 1 <= len(members) <= MAX_GENESIS_MEMBERS:
            raise InvalidCommunityError(f"1..1024 genesis members needed, got {len(members)}")
        for key in members:
            if len(key) != KEY_BYTES:
                raise InvalidCommunityError(f"member key must be 32 bytes: {key.hex()}")
        if list(members) != sorted(set(members)):
            raise InvalidCommunityError("genesis members must be sorted and unique")
        terms: object = self.terms
        if not isinstance(terms, CommunityTerms):
            raise InvalidCommunityError(f"terms must be CommunityTerms, got {type(terms)}")

    @classmethod
    def create(
        cls,
        name: str,
        created_ms: int,
        members: list[bytes],
        terms: CommunityTerms = DEFAULT_TERMS,
    ) -> Community:
        """Build a descriptor, sorting and de-duplicating the member keys."""
        return cls(name, created_ms, tuple(sorted(set(members))), terms)

    def to_bytes(self) -> bytes:
        """Canonical encoding (see docs/protocol.md, "Community descriptor")."""
        name = self.name.encode()
        return b"".join(
            (
                _FIXED.pack(DESCRIPTOR_VERSION, len(name)),
                name,
                _CREATED.pack(self.created_ms),
                self.terms.to_bytes(),
                _COUNT.pack(len(self.genesis_members)),
                *self.genesis_members,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Community:
        """Decode canonical bytes; raises InvalidCommunityError on anything else."""
        try:
            version, name_len = _FIXED.unpack_from(data, 0)
        except struct.error as err:
            raise InvalidCommunityError(f"malformed descriptor: {err}") from err
        if version != DESCRIPTOR_VERSION:
            # Version 1 had no terms: its members could not agree on how to clear.
            raise InvalidCommunityError(
                f"unknown descriptor version {version} (this node reads {DESCRIPTOR_VERSION})"
            )
        offset = _FIXED.size
        try:
            name = data[offset : offset + name_len].decode()
            offset += name_len
            (created_ms,) = _CREATED.unpack_from(data, offset)
            offset += _CREATED.size
            terms_bytes = data[offset : offset + TERMS_BYTES]
            offset += TERMS_BYTES
            (count,) = _COUNT.unpack_from(data, offset)
            offset += _COUNT.size
        except (struct.error, UnicodeDecodeError) as err:
            raise InvalidCommunityError(f"malformed descriptor: {err}") from err
        if len(data) != offset + count * KEY_BYTES:
            raise InvalidCommunityError(f"descriptor length {len(data)} does not match {count}")
        try:
            terms = CommunityTerms.from_bytes(terms_bytes)
        except InvalidCommunityTermsError as err:
            raise InvalidCommunityError(f"descriptor has invalid market terms: {err}") from err
        keys = tuple(
            data[offset + i * KEY_BYTES : offset + (i + 1) * KEY_BYTES] for i in range(count)
        )
        community = cls(name, created_ms, keys, terms)
        if community.to_bytes() != data:
            raise InvalidCommunityError("descriptor is not in canonical form")
        return community

    @property
    def community_id(self) -> bytes:
        """SHA-256 of the canonical descriptor bytes."""
        return hashlib.sha256(self.to_bytes()).digest()

    def to_json(self) -> str:
        """A human-editable form (keys in hex)."""
        return json.dumps(
            {
                "name": self.name,
                "created_ms": self.created_ms,
                "members": [key.hex() for key in self.genesis_members],
                "terms": self.terms.to_json_obj(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Community:
        """Parse the form written by to_json (member order does not matter; missing
        terms take their defaults)."""
        try:
            raw = jsontext.loads(text)
            members = [bytes.fromhex(key) for key in raw["members"]]
            name = str(raw["name"])
            created_ms = int(raw["created_ms"])
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidCommunityError(f"malformed community JSON: {err}") from err
        try:
            terms = CommunityTerms.from_json_obj(raw.get("terms", {}))
        except (InvalidCommunityTermsError, TypeError) as err:
            raise InvalidCommunityError(f"community JSON has invalid market terms: {err}") from err
        return cls.create(name, created_ms, members, terms)

    @classmethod
    def load(cls, path: Path) -> Community:
        """Read a community JSON file."""
        return cls.from_json(path.read_text())
