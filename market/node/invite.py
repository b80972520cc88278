"""Invite codes: how a member lets a new household join, by chat message or QR code.

A code carries the community descriptor (so the newcomer learns what it joins), the
address of a member node to redeem it at, a random secret, an expiry and the inviter's
signature. Possession of the code is the permission: whoever redeems it first is
admitted, and the admit entry records the tag (the public key of a key pair derived
from the secret, which signs the admitted key), so every node that holds that entry
refuses the code afterwards. Layout in docs/protocol.md, "Invite code".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from ..ledger.admission import invite_key, invite_message
from ..ledger.codec import verify
from ..ledger.community import Community
from ..ledger.errors import InvalidCommunityError
from ..ledger.identity import Identity
from .errors import (
    InviteChecksumError,
    InviteExpiredError,
    InviteForgedError,
    InviteMalformedError,
    InviteUsedError,
    InviteWrongCommunityError,
)

PREFIX = "p2pe1-"
INVITE_VERSION = 2
SECRET_BYTES = 16
KEY_BYTES = 32
SIGNATURE_BYTES = 64
CHECKSUM_BYTES = 4
MAX_ADDRESS_BYTES = 255
DEFAULT_TTL_S = 86_400

_HEAD = struct.Struct(">BH")  # version, descriptor length
_TAIL = struct.Struct(f">{SECRET_BYTES}sQ{KEY_BYTES}s{SIGNATURE_BYTES}s")
_BASE32_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
# What people and chat apps put into a code: grouping hyphens, spaces, line breaks.
_IGNORED = str.maketrans("", "", "- \t\r\n")


class TokenSource(Protocol):
    """Where secrets come from (the `secrets` module; a seeded stub in tests)."""

    def token_bytes(self, nbytes: int) -> bytes:
        """nbytes random bytes."""
        ...


def tag_of(secret: bytes) -> bytes:
    """The invite tag: the public key of the invite key derived from its secret (recorded
    in the admit entry, which the invite key signs)."""
    return invite_key(secret).public_key


def _check_address(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if not (address.isascii() and address.isprintable()) or " " in address:
        raise InviteMalformedError(f"address must be printable ASCII: {address!r}")
    if not 1 <= len(address) <= MAX_ADDRESS_BYTES:
        raise InviteMalformedError(f"address must be 1..{MAX_ADDRESS_BYTES} bytes")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 0xFFFF:
        raise InviteMalformedError(f"address must be host:port, got {address!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Invite:
    """A single-use, expiring invitation to join `community` by redeeming it at `address`."""

    community: Community
    address: str
    secret: bytes
    expires_s: int
    inviter: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_address(self.address)
        if len(self.secret) != SECRET_BYTES:
            raise InviteMalformedError(f"invite secret must be {SECRET_BYTES} bytes")
        if not 0 <= self.expires_s < 2**64:
            raise InviteMalformedError(f"invite expiry out of range: {self.expires_s}")
        if len(self.inviter) != KEY_BYTES or len(self.signature) != SIGNATURE_BYTES:
            raise InviteMalformedError("inviter key is 32 bytes and signature 64")

    @property
    def tag(self) -> bytes:
        """SHA-256 of the secret: names the invite in admit entries without revealing it."""
        return tag_of(self.secret)

    @property
    def message(self) -> bytes:
        """What the inviter signed."""
        return invite_message(self.community.community_id, self.tag, self.expires_s, self.address)

    def to_bytes(self) -> bytes:
        """The binary layout, checksum included."""
        descriptor = self.community.to_bytes()
        address = self.address.encode()
        body = b"".join(
            (
                _HEAD.pack(INVITE_VERSION, len(descriptor)),
                descriptor,
                bytes([len(address)]),
                address,
                _TAIL.pack(self.secret, self.expires_s, self.inviter, self.signature),
            )
        )
        return body + hashlib.sha256(body).digest()[:CHECKSUM_BYTES]

    def encode(self) -> str:
        """The code as text: `p2pe1-` and unpadded upper-case base32 (RFC 4648).

        Upper-cased as a whole it stays a valid code and uses only the QR alphanumeric
        character set.
        """
        return PREFIX + base64.b32encode(self.to_bytes()).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Invite:
        """Parse a code as people paste or type it: any case, with grouping hyphens or
        spaces and surrounding whitespace. Raises InviteMalformedError or
        InviteChecksumError."""
        compact = text.translate(_IGNORED).upper()
        prefix = PREFIX.rstrip("-").upper()
        if not compact.startswith(prefix) or len(compact) == len(prefix):
            raise InviteMalformedError(f"an invite code starts with {PREFIX!r}")
        payload = compact[len(prefix) :]
        for position, char in enumerate(payload):
            if char not in _BASE32_ALPHABET:
                raise InviteChecksumError(f"{char!r} at position {position + 1} is not in a code")
        try:
            raw = base64.b32decode(payload + "=" * (-len(payload) % 8))
        except (binascii.Error, ValueError) as err:
            raise InviteChecksumError(f"the code has a missing or extra character: {err}") from err
        if base64.b32encode(raw).decode("ascii").rstrip("=") != payload:
            raise InviteChecksumError("the code's last character is wrong")
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Invite:
        """Parse the binary layout, checking the checksum first."""
        if len(raw) <= CHECKSUM_BYTES:
            raise InviteMalformedError("the code is too short to be an invite")
        body, checksum = raw[:-CHECKSUM_BYTES], raw[-CHECKSUM_BYTES:]
        if hashlib.sha256(body).digest()[:CHECKSUM_BYTES] != checksum:
            raise InviteChecksumError("the code's checksum does not match: it was mistyped")
        try:
            version, descriptor_len = _HEAD.unpack_from(body, 0)
            offset = _HEAD.size
            if version != INVITE_VERSION:
                raise InviteMalformedError(f"unsupported invite version {version}")
            descriptor = body[offset : offset + descriptor_len]
            offset += descriptor_len
            address_len = body[offset]
            offset += 1
            address = body[offset : offset + address_len].decode("ascii")
            offset += address_len
            if len(body) != offset + _TAIL.size:
                raise InviteMalformedError("the invite's length does not match its fields")
            secret, expires_s, inviter, signature = _TAIL.unpack_from(body, offset)
            community = Community.from_bytes(descriptor)
        except (struct.error, IndexError, UnicodeDecodeError) as err:
            raise InviteMalformedError(f"not an invite: {err}") from err
        except InvalidCommunityError as err:
            raise InviteMalformedError(f"the invite's community is invalid: {err}") from err
        return cls(
            community=community,
            address=address,
            secret=secret,
            expires_s=expires_s,
            inviter=inviter,
            signature=signature,
        )


def create_invite(
    identity: Identity,
    community: Community,
    address: str,
    *,
    now_s: int,
    ttl_s: int = DEFAULT_TTL_S,
    rng: TokenSource = secrets,
) -> Invite:
    """A fresh invite signed by `identity`, valid for ttl_s seconds from now_s."""
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive: {ttl_s}")
    secret = rng.token_bytes(SECRET_BYTES)
    expires_s = now_s + ttl_s
    _check_address(address)
    message = invite_message(community.community_id, tag_of(secret), expires_s, address)
    return Invite(
        community=community,
        address=address,
        secret=secret,
        expires_s=expires_s,
        inviter=identity.public_key,
        signature=identity.sign(message),
    )


def verify_invite(
    invite: Invite,
    *,
    community: Community,
    is_member: Callable[[bytes], bool],
    used_tags: Collection[bytes],
    now_s: int,
) -> None:
    """Raise the InviteError that says why `invite` cannot admit anyone into `community`
    now; return if it can."""
    if invite.community.community_id != community.community_id:
        raise InviteWrongCommunityError(
            f"the invite is for community {invite.community.name!r}, "
            f"this node serves {community.name!r}"
        )
    if not verify(invite.inviter, invite.message, invite.signature):
        raise InviteForgedError("the inviter's signature does not match the invite")
    if not is_member(invite.inviter):
        raise InviteForgedError(f"the inviter {invite.inviter.hex()[:16]} is not a member")
    if now_s >= invite.expires_s:
        raise InviteExpiredError(f"the invite expired at {invite.expires_s} (now {now_s})")
    if invite.tag in used_tags:
        raise InviteUsedError("the invite has already been used")
