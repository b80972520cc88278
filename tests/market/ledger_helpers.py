"""Helpers shared by the ledger and gossip tests: deterministic keys and crafted frames."""

from __future__ import annotations

import time

from market.ledger.admission import admit_body, invite_key, invite_message
from market.ledger.codec import ZERO_HASH, encode_frame, encode_header, entry_hash
from market.ledger.community import DEFAULT_TERMS, Community
from market.ledger.identity import Identity
from market.ledger.kinds import AdmitBody, Kind, OrderBody, Side
from market.terms import CommunityTerms

T0_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z
# A day after T0: the orders and seals of these tests keep to the community's terms
# (signed before the slot's gate, at most a week ahead) on the test clock below.
SLOT = T0_MS // 1000 + 86_400
_STARTED_NS = time.monotonic_ns()


def clock_ms() -> int:
    """The ledgers' clock in these tests: an hour after T0, running at real speed.

    An hour of slack leaves the entries written by hand from T0 on in the past, and the
    day to SLOT outlasts any test run.
    """
    return T0_MS + 3_600_000 + (time.monotonic_ns() - _STARTED_NS) // 1_000_000


def identities(count: int, base: int = 1) -> list[Identity]:
    """Deterministic identities (seed = 32 copies of one byte)."""
    return [Identity(bytes([base + i]) * 32) for i in range(count)]


def community_of(
    members: list[Identity], name: str = "rue-des-lilas", terms: CommunityTerms = DEFAULT_TERMS
) -> Community:
    """A community whose genesis members are the given identities."""
    return Community.create(name, T0_MS, [m.public_key for m in members], terms)


def order(energy_wh: int = 1500, price: int = 1952, side: Side = Side.SELL) -> bytes:
    """A typical order body."""
    return OrderBody(SLOT, side, energy_wh, price).encode()


INVITE_ADDRESS = "192.0.2.1:8123"


def admit(
    community: Community,
    inviter: Identity,
    member: bytes,
    *,
    secret: bytes = bytes(16),
    expires_s: int = T0_MS // 1000 + 86_400,
) -> AdmitBody:
    """A valid admit of `member` with an invite of `inviter` whose secret is `secret`."""
    tag = invite_key(secret).public_key
    message = invite_message(community.community_id, tag, expires_s, INVITE_ADDRESS)
    return admit_body(
        community.community_id,
        member,
        secret=secret,
        inviter=inviter.public_key,
        expires_s=expires_s,
        address=INVITE_ADDRESS,
        inviter_signature=inviter.sign(message),
    )


class ChainWriter:
    """Writes an author's chain by hand, so tests can craft broken entries."""

    def __init__(self, identity: Identity, community: Community) -> None:
        self.identity = identity
        self.community = community
        self.community_id = community.community_id
        self.seq = 0
        self.prev = ZERO_HASH
        self.ts = T0_MS

    def frame(
        self,
        body: bytes | None = None,
        kind: int = Kind.ORDER,
        *,
        seq: int | None = None,
        prev: bytes | None = None,
        ts: int | None = None,
        community_id: bytes | None = None,
        signer: Identity | None = None,
        advance: bool = True,
    ) -> bytes:
        """Sign the next entry (fields overridable) and, by default, advance the chain."""
        body = order() if body is None else body
        seq = self.seq + 1 if seq is None else seq
        prev = self.prev if prev is None else prev
        ts = self.ts + 1000 if ts is None else ts
        header = encode_header(
            kind,
            self.community_id if community_id is None else community_id,
            self.identity.public_key,
            seq,
            prev,
            ts,
            body,
        )
        signature = (signer or self.identity).sign(header)
        if advance:
            self.seq, self.prev, self.ts = seq, entry_hash(header), ts
        return encode_frame(header, signature, body)

    def frames(self, count: int) -> bytes:
        """count valid consecutive entries as one batch."""
        return b"".join(self.frame(order(energy_wh=100 + i)) for i in range(count))
