"""Admission: which keys an `admit` entry may name, and which admitted keys count.

Two layers, both functions of entry content only (docs/protocol.md, "Admission"):

- `check_admit`, at ingest: an admit must carry a member's invite (the inviter's
  signature over the invite) and the invite key's signature over the admitted key,
  and be timestamped before the invite's expiry. It looks at the entry alone (and at
  whether the inviter may write), so the ledger's write-membership only ever grows and
  does not depend on the order in which admits arrive.
- `Admissions`, for the market: of the admits held, taken in (timestamp, entry hash)
  order, one counts per invite, an admitted inviter's invites count only after its
  probation, and each inviter's at most ADMISSIONS_PER_PERIOD per period; taken in the
  same order with the revokes (market.ledger.revocation), a key stops counting when it
  leaves or a quorum removes it, and a revoked key never counts again. Nodes holding the
  same admits and revokes count the same members, whatever the order they arrived in.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .codec import Entry, verify
from .errors import InvalidBodyError, RejectReason
from .identity import Identity
from .kinds import NO_INVITE, AdmitBody, Kind, RevokeBody, RotateBody
from .revocation import Cause, Revocation, RevocationSweep, RevokeVerdict

INVITE_DOMAIN: Final = b"p2p-energy invite v2"
INVITE_KEY_DOMAIN: Final = b"p2p-energy invite key v1"
BINDING_DOMAIN: Final = b"p2p-energy admit v1"
# One member adds at most this many counted keys per period, and a key it admitted
# invites (with effect) only once it has been a member for a period: a bad member's
# keys grow by a bounded factor per period instead of without limit (docs/protocol.md).
ADMISSIONS_PER_PERIOD: Final = 3
ADMISSION_PERIOD_MS: Final = 30 * 86_400 * 1000

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


class AdmitVerdict(StrEnum):
    """Whether an admit held counts, and why not."""

    COUNTED = "counted"
    REDUNDANT = "redundant"  # the key was already a member
    INVITE_USED = "invite_used"  # an earlier admit (timestamp, hash) redeemed the invite
    INVITER_NOT_MEMBER = "inviter_not_member"  # the inviter did not count at that time
    PROBATION = "probation"  # the inviter has been a member for less than a period
    QUOTA = "quota"  # the inviter's invites already counted ADMISSIONS_PER_PERIOD times
    REVOKED = "revoked"  # the key was revoked before: it never counts again


@dataclass(frozen=True, slots=True)
class _Admit:
    timestamp_ms: int
    hash: bytes
    body: AdmitBody


@dataclass(frozen=True, slots=True)
class _Revoke:
    """A revoke (target, and a successor for a replacement) or a rotate (the new key,
    `rotate` set)."""

    timestamp_ms: int
    hash: bytes
    author: bytes
    target: bytes
    rotate: bool = False
    successor: bytes | None = None


class Admissions:
    """The counted members: the genesis members and the keys of the admits that count,
    less the keys revoked (left, removed by a majority of the members, or rotated: then
    the new key counts in their place)."""

    def __init__(self, genesis: Iterable[bytes], created_ms: int) -> None:
        self._genesis = frozenset(genesis)
        self._created_ms = created_ms
        self._admits: dict[bytes, _Admit] = {}
        self._revokes: dict[bytes, _Revoke] = {}
        self._members: dict[bytes, int] | None = None
        self._counted: dict[bytes, int] = {}
        self._tenure: dict[bytes, int] = {}
        self._counted_by: dict[bytes, list[int]] = {}
        # keys a genesis member rotated onto (and theirs): invite as a genesis member
        self._heirs: set[bytes] = set()
        self._revoked: dict[bytes, Revocation] = {}
        self._verdicts: dict[bytes, AdmitVerdict] = {}
        self._revoke_verdicts: dict[bytes, RevokeVerdict] = {}

    def add(self, entry: Entry) -> bool:
        """Hold an admit, revoke or rotate entry (one that passed ingest); True when new."""
        if entry.hash in self._admits or entry.hash in self._revokes:
            return False
        if entry.kind == Kind.REVOKE:
            revoke = RevokeBody.decode(entry.body)
            self._revokes[entry.hash] = _Revoke(
                entry.timestamp_ms,
                entry.hash,
                entry.author,
                revoke.target,
                successor=revoke.successor,
            )
        elif entry.kind == Kind.ROTATE:
            new_key = RotateBody.decode(entry.body).new_key
            self._revokes[entry.hash] = _Revoke(
                entry.timestamp_ms, entry.hash, entry.author, new_key, rotate=True
            )
        else:
            body = AdmitBody.decode(entry.body)
            self._admits[entry.hash] = _Admit(entry.timestamp_ms, entry.hash, body)
        self._members = None  # recounted on the next read: admits and revokes are rare
        return True

    def is_genesis(self, key: bytes) -> bool:
        """True for a key of the community descriptor."""
        return key in self._genesis

    def members(self) -> Mapping[bytes, int]:
        """Counted member key -> when it was admitted (the descriptor's time for genesis);
        revoked keys excluded."""
        if self._members is None:
            self._count()
        assert self._members is not None
        return self._members

    def counted(self) -> Mapping[bytes, int]:
        """Every key that counted at some time -> when it was admitted, revoked keys
        included (see `revocation`): a slot's electorate reads who counted then."""
        self.members()
        return self._counted

    def revocation(self, key: bytes) -> Revocation | None:
        """When and why `key` stopped counting (None while it counts or never did)."""
        self.members()
        return self._revoked.get(key)

    def has_voted(self, author: bytes, target: bytes, successor: bytes | None = None) -> bool:
        """Whether a revoke of `target` (with this successor, None for a removal) signed
        by `author` is held."""
        return any(
            r.author == author and r.target == target and r.successor == successor and not r.rotate
            for r in self._revokes.values()
        )

    def revoke_verdict(self, entry_hash: bytes) -> RevokeVerdict | None:
        """What the revoke with this hash did (None when it is not held)."""
        self.members()
        return self._revoke_verdicts.get(entry_hash)

    def is_member(self, key: bytes) -> bool:
        """True for a counted member."""
        return key in self.members()

    def verdict(self, entry_hash: bytes) -> AdmitVerdict | None:
        """Whether the admit with this hash counts (None when it is not held)."""
        self.members()
        return self._verdicts.get(entry_hash)

    def admits_of(self, key: bytes) -> list[tuple[bytes, AdmitVerdict]]:
        """(entry hash, verdict) of every admit naming `key`, in counting order."""
        self.members()
        return [
            (admit.hash, self._verdicts[admit.hash])
            for admit in sorted(self._admits.values(), key=_order)
            if admit.body.member == key
        ]

    def explain(self, key: bytes) -> str:
        """Why `key` is not a counted member, for people."""
        revocation = self.revocation(key)
        if revocation is not None:
            return f"this key no longer counts as a member: {_GONE[revocation.cause]}"
        verdicts = {verdict for _hash, verdict in self.admits_of(key)}
        if AdmitVerdict.COUNTED in verdicts or key in self._genesis:
            return "this key is a member"
        for verdict in AdmitVerdict:
            if verdict in verdicts:
                return f"this node's admission does not count: {_WHY[verdict]}"
        return "no admission of this key is held"

    def _count(self) -> None:
        members = dict.fromkeys(self._genesis, self._created_ms)
        counted = dict(members)
        # since when each key's household has counted: a rotated key keeps its probation
        tenure = dict(members)
        self._heirs = heirs = set()
        used: set[bytes] = set()
        counted_by: dict[bytes, list[int]] = {}
        verdicts: dict[bytes, AdmitVerdict] = {}
        revoke_verdicts: dict[bytes, RevokeVerdict] = {}
        sweep = RevocationSweep(lambda key, at: self._counts_at(key, at, members))
        # One pass over admits and revokes in (timestamp, hash) order: whether an admit
        # counts depends on revocations before it (its inviter's, its key's), and whether
        # a revoke counts on the admissions before it (its author's, its target's).
        events: list[_Admit | _Revoke] = [*self._admits.values(), *self._revokes.values()]
        for event in sorted(events, key=_order):
            if isinstance(event, _Revoke) and event.rotate:
                old, new, at = event.author, event.target, event.timestamp_ms
                verdict_r = sweep.rotate(old, new, at, members, counted)
                revoke_verdicts[event.hash] = verdict_r
                if verdict_r is RevokeVerdict.ROTATED:
                    # no new invite and no fresh quota: the household's, carried over
                    counted[new] = at
                    tenure[new] = tenure[old]
                    if old in self._genesis or old in heirs:
                        heirs.add(new)
                    counted_by[new] = counted_by.setdefault(old, [])
                continue
            if isinstance(event, _Revoke) and event.successor is not None:
                old, new, at = event.target, event.successor, event.timestamp_ms
                verdict_r = sweep.replace(event.author, old, new, at, members)
                revoke_verdicts[event.hash] = verdict_r
                if verdict_r is RevokeVerdict.REPLACED:
                    # the household's standing, not the fresh key's: its tenure (no new
                    # probation), its quota and, for a genesis household, its rank
                    tenure[new] = min(tenure.get(new, at), tenure.get(old, at))
                    if old in self._genesis or old in heirs:
                        heirs.add(new)
                    counted_by[new] = counted_by.get(new, []) + counted_by.get(old, [])
                continue
            if isinstance(event, _Revoke):
                revoke_verdicts[event.hash] = sweep.judge(
                    event.author, event.target, event.timestamp_ms, members
                )
                continue
            verdict = self._judge(event, members, tenure, used, counted_by, sweep.revoked)
            verdicts[event.hash] = verdict
            if verdict is AdmitVerdict.COUNTED:
                body = event.body
                members[body.member] = counted[body.member] = event.timestamp_ms
                tenure[body.member] = event.timestamp_ms
                used.add(body.invite_tag)
                counted_by.setdefault(body.inviter, []).append(event.timestamp_ms)
        self._members = members
        self._counted = counted
        self._tenure = tenure
        self._counted_by = counted_by
        self._revoked = sweep.revoked
        self._verdicts = verdicts
        self._revoke_verdicts = revoke_verdicts

    def _counts_at(self, key: bytes, at: int, members: Mapping[bytes, int]) -> bool:
        """Whether `key` counts at `at` (genesis members from the descriptor's time on,
        admitted keys after their admit) by the members counted so far."""
        since = members.get(key)
        if since is None:
            return False
        return at >= since if key in self._genesis else at > since

    def _judge(
        self,
        admit: _Admit,
        members: Mapping[bytes, int],
        tenure: Mapping[bytes, int],
        used: set[bytes],
        counted_by: Mapping[bytes, list[int]],
        revoked: Mapping[bytes, Revocation],
    ) -> AdmitVerdict:
        body, at = admit.body, admit.timestamp_ms
        if body.member in members:
            return AdmitVerdict.REDUNDANT
        if body.member in revoked:
            return AdmitVerdict.REVOKED
        if body.invite_tag in used:
            return AdmitVerdict.INVITE_USED
        return self._inviter_verdict(body.inviter, at, members, tenure, counted_by)

    def _inviter_verdict(
        self,
        inviter: bytes,
        at: int,
        members: Mapping[bytes, int],
        tenure: Mapping[bytes, int],
        counted_by: Mapping[bytes, list[int]],
    ) -> AdmitVerdict:
        since = members.get(inviter)
        if inviter in self._genesis or inviter in self._heirs:
            # an admit dated before the community existed would escape every period
            if since is None or at < self._created_ms:
                return AdmitVerdict.INVITER_NOT_MEMBER
        else:
            if since is None or since >= at:
                return AdmitVerdict.INVITER_NOT_MEMBER
            if at - tenure.get(inviter, since) < ADMISSION_PERIOD_MS:
                return AdmitVerdict.PROBATION
        recent = [t for t in counted_by.get(inviter, ()) if t > at - ADMISSION_PERIOD_MS]
        if len(recent) >= ADMISSIONS_PER_PERIOD:
            return AdmitVerdict.QUOTA
        return AdmitVerdict.COUNTED

    def inviter_verdict(self, inviter: bytes, at_ms: int) -> AdmitVerdict:
        """Whether a fresh admit with an invite of `inviter`, timestamped `at_ms`, would
        count by what is held now (COUNTED, or why not): a redeeming node checks it so
        that it does not write an admission that would not count."""
        members = self.members()
        return self._inviter_verdict(inviter, at_ms, members, self._tenure, self._counted_by)


_WHY: Final = {
    AdmitVerdict.REDUNDANT: "the key was already a member",
    AdmitVerdict.INVITE_USED: "its invite was redeemed for another key first",
    AdmitVerdict.INVITER_NOT_MEMBER: "its inviter is not a member",
    AdmitVerdict.PROBATION: "its inviter joined less than 30 days before",
    AdmitVerdict.QUOTA: "its inviter already admitted its quota of keys in 30 days",
    AdmitVerdict.REVOKED: "the key was revoked before and never counts again",
}

_GONE: Final = {
    Cause.LEFT: "it left the community",
    Cause.REMOVED: "a majority of the members removed it",
    Cause.ROTATED: "its household rotated to a new key",
    Cause.REPLACED: "a majority of the members replaced it by the household's new key",
}


def _order(event: _Admit | _Revoke) -> tuple[int, bytes]:
    return event.timestamp_ms, event.hash
