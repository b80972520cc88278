"""Admission: which keys an `admit` entry may name (docs/protocol.md, "Admission").

At ingest an admit must carry a member's invite (the inviter's signature over the
invite) and the invite key's signature over the admitted key, and be timestamped before
the invite's expiry. The rule looks at the entry alone (and at whether the inviter may
write), so the ledger's write-membership only ever grows and does not depend on the
order in which admits arrive.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Final

from .codec import verify
from .errors import InvalidBodyError, RejectReason
from .identity import Identity
from .kinds import NO_INVITE, AdmitBody

INVITE_DOMAIN: Final = b"p2p-energy invite v2"
INVITE_KEY_DOMAIN: Final = b"p2p-energy invite key v1"
BINDING_DOMAIN: Final = b"p2p-energy admit v1"

_EXPIRES = struct.Struct(">Q")


def invite_key(secret: bytes) -> Identity:
    """The invite's key pair, derived from the code's secret; its public key is the tag."""
    return Identity(hashlib.sha256(INVITE_KEY_DOMAIN + secret).digest())


def invite_message(community_id: bytes, tag: bytes, expires_s: int, address: str) -> bytes:
    """The bytes an inviter signs. The domain prefix keeps the signature from ever
    being valid as an entry header or a request signature."""
    return INVITE_DOMAIN + community_id + tag + _EXPIRES.pack(expires_s) + address.encode()


def binding_message(community_id: bytes, member: bytes) -> bytes:
    """The bytes the invite key signs: this invite admits `member` and no other key."""
    return BINDING_DOMAIN + community_id + member


def admit_body(
    community_id: bytes,
    member: bytes,
    *,
    secret: bytes,
    inviter: bytes,
    expires_s: int,
    address: str,
    inviter_signature: bytes,
) -> AdmitBody:
    """The admit of `member` with the invite whose secret is `secret` (redeeming)."""
    key = invite_key(secret)
    return AdmitBody(
        member,
        key.public_key,
        inviter,
        expires_s,
        inviter_signature,
        key.sign(binding_message(community_id, member)),
        address,
    )


def admit_problem(
    body: AdmitBody, timestamp_ms: int, community_id: bytes, is_member: Callable[[bytes], bool]
) -> tuple[RejectReason, str] | None:
    """Why an admit may not be written (None when it may): `invite` for a missing or
    forged proof or an expired invite, `not_member` for an inviter not known as a member
    (the inviter's own admit may not have arrived yet)."""
    if body.invite_tag == NO_INVITE:
        return RejectReason.INVITE, "an admission needs an invite"
    if timestamp_ms >= body.expires_s * 1000:
        return RejectReason.INVITE, f"the invite expired at {body.expires_s}"
    message = invite_message(community_id, body.invite_tag, body.expires_s, body.address)
    if not verify(body.inviter, message, body.inviter_signature):
        return RejectReason.INVITE, "the inviter's signature does not match the invite"
    if not verify(body.invite_tag, binding_message(community_id, body.member), body.binding):
        return RejectReason.INVITE, "the invite key did not sign the admitted key"
    if not is_member(body.inviter):
        return RejectReason.NOT_MEMBER, f"the inviter {body.inviter.hex()[:16]} is not a member"
    return None


def check_admit(
    body: bytes, timestamp_ms: int, community_id: bytes, is_member: Callable[[bytes], bool]
) -> RejectReason | None:
    """The ingest rule for admit bodies (already schema-checked): a reason or None."""
    try:
        problem = admit_problem(AdmitBody.decode(body), timestamp_ms, community_id, is_member)
    except InvalidBodyError:
        return RejectReason.BODY_SCHEMA
    return None if problem is None else problem[0]


def check_own_admit(
    body: bytes, timestamp_ms: int, community_id: bytes, is_member: Callable[[bytes], bool]
) -> None:
    """Raise InvalidBodyError unless the admit passes the ingest rule (own appends, verify):
    a node never signs an admit its peers would refuse."""
    problem = admit_problem(AdmitBody.decode(body), timestamp_ms, community_id, is_member)
    if problem is not None:
        raise InvalidBodyError(f"admit refused ({problem[0]}): {problem[1]}")
