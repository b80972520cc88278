"""Redeeming an invite over HTTP, at the inviter's node.

The newcomer posts the code, its public key and a signature proving it holds that key,
sealed to the inviter's key (the invite names it) with the transport's boxes, so the
code never crosses the LAN in clear and only the inviter's node can answer; the node
checks the invite and writes `admit(newcomer, invite tag)` to its own chain, from where
gossip spreads it. Redemptions at one node are serialised, so one code never admits two
keys there; see docs/protocol.md, "Redeeming an invite", for the race between two nodes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from .. import jsontext
from ..gossip.auth import (
    HEADER_SERVER_TIME,
    AuthError,
    RequestVerifier,
    Verified,
    now_ms,
)
from ..gossip.config import LEGACY_PATH_PREFIX, PATH_PREFIX
from ..gossip.gate import Refusal, RequestGate, refusal_response
from ..gossip.sealed import BOX_CONTENT_TYPE, Channel, encode_reply
from ..gossip.server import open_sealed
from ..ledger.admission import ADMISSIONS_PER_PERIOD, AdmitVerdict, admit_body
from ..ledger.codec import verify
from ..ledger.errors import LedgerError
from ..ledger.kinds import AdmitBody, Kind
from ..ledger.ledger import Ledger
from ..ledger.revocation import Revocation
from .errors import (
    InviteError,
    InviteForgedError,
    InviteQuotaError,
    InviteUsedError,
    InviteWrongCommunityError,
    RedeemRefusedError,
)
from .invite import KEY_BYTES, SIGNATURE_BYTES, Invite, verify_invite

_LOGGER = logging.getLogger(__name__)

REDEEM_DOMAIN = b"p2p-energy redeem v1"
DEFAULT_PATH_PREFIX = PATH_PREFIX
REDEEM_ROUTE = "/redeem"
MAX_REQUEST_BYTES = 16 * 1024  # the sealed body (the JSON plus a 16-byte MAC)
# A newcomer's clock is often off; five minutes tolerates that and still makes a
# captured request useless soon after.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
# The reply carries the descriptor in hex: up to 1,024 genesis keys fit.
MAX_REPLY_BYTES = 128 * 1024
DEFAULT_TIMEOUT_S = 10.0

UNAVAILABLE = "unavailable"
STATUS_OF_REASON: dict[str, int] = {
    "malformed": 400,
    "mistyped": 400,
    "bad_request": 400,
    "forged": 403,
    "wrong_community": 403,
    "used": 409,
    "quota": 429,
    "expired": 410,
}
WRONG_NODE = "wrong_recipient"
# Refusals a node sends in plaintext, before it opened the request (so unauthenticated):
# the newcomer believes these only; a plaintext `used` or `expired` could be anyone's.
PLAINTEXT_REASONS = frozenset({"bad_request", "wrong_community", WRONG_NODE})

_TS = struct.Struct(">Q")


def redeem_message(community_id: bytes, tag: bytes, member: bytes, ts_ms: int) -> bytes:
    """The bytes a newcomer signs to prove it holds `member`'s secret key."""
    return REDEEM_DOMAIN + community_id + tag + member + _TS.pack(ts_ms)


class CountedMembers(Protocol):
    """The members the market counts (market.ledger.admission.Admissions)."""

    def is_member(self, key: bytes) -> bool:
        """True for a counted member."""
        ...

    def inviter_verdict(self, inviter: bytes, at_ms: int) -> AdmitVerdict:
        """Whether an admit by an invite of `inviter` at `at_ms` would count."""
        ...

    def revocation(self, key: bytes) -> Revocation | None:
        """When and why `key` stopped counting, if it did."""
        ...


@dataclass(frozen=True, slots=True)
class _Request:
    invite: Invite
    member: bytes
    ts_ms: int
    signature: bytes


def _hex_field(raw: dict[str, object], name: str, size: int) -> bytes:
    value = raw.get(name)
    if not isinstance(value, str):
        raise RedeemRefusedError(f"{name} must be a hex string")
    try:
        data = bytes.fromhex(value)
    except ValueError as err:
        raise RedeemRefusedError(f"{name} must be hex: {err}") from err
    if len(data) != size:
        raise RedeemRefusedError(f"{name} must be {size} bytes, got {len(data)}")
    return data


def _parse_request(data: bytes) -> _Request:
    try:
        raw = jsontext.loads(data)
    except ValueError as err:
        raise RedeemRefusedError(f"the request is not JSON: {err}") from err
    if not isinstance(raw, dict):
        raise RedeemRefusedError("the request must be a JSON object")
    code, ts_ms = raw.get("invite"), raw.get("ts")
    if not isinstance(code, str):
        raise RedeemRefusedError("invite must be the code as a string")
    if type(ts_ms) is not int or not 0 <= ts_ms < 2**64:
        raise RedeemRefusedError("ts must be Unix milliseconds")
    member = _hex_field(raw, "member", KEY_BYTES)
    signature = _hex_field(raw, "signature", SIGNATURE_BYTES)
    return _Request(Invite.decode(code), member, ts_ms, signature)


def wall_clock_s() -> int:
    """Now, by the wall clock (Unix s).

    Invites are made and redeemed by people: their expiry and a redeem request's freshness
    follow the wall clock even when the market runs on a faster one (a simulation).
    """
    return time.time_ns() // 1_000_000_000


class RedeemService:
    """Serves `POST {prefix}/redeem` for a member node's ledger."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        clock_s: Callable[[], int],
        path_prefix: str = DEFAULT_PATH_PREFIX,
        counted: CountedMembers | None = None,
        market_clock_ms: Callable[[], int] | None = None,
        gate: RequestGate | None = None,
    ) -> None:
        """`counted` (the node's counted members, with the clock that stamps its
        entries) refuses admissions that would not count and lets a key whose admission
        did not count redeem another invite; without it, ledger membership is used.
        `gate` (the gossip server's) rate-limits the route and shares its turns."""
        if ledger.identity is None:
            raise ValueError("redeeming invites needs a ledger with an identity")
        self._ledger = ledger
        self._own_key = ledger.identity.public_key
        self._clock_s = clock_s
        self._counted = counted
        self._market_clock_ms = market_clock_ms or (lambda: clock_s() * 1000)
        self._path_prefix = path_prefix
        self._lock = asyncio.Lock()
        self._stats: Counter[str] = Counter()
        self._gate = gate or RequestGate()
        window_s = MAX_CLOCK_SKEW_MS / 1000
        self._verifier = RequestVerifier(ledger.identity, ledger.community_id, None, window_s)

    def routes(self) -> web.RouteTableDef:
        """The redeem route under the path prefix (and a refusal under v1's)."""
        routes = web.RouteTableDef()
        routes.post(self._path_prefix + REDEEM_ROUTE)(self._handle)
        if self._path_prefix != LEGACY_PATH_PREFIX:
            routes.post(LEGACY_PATH_PREFIX + REDEEM_ROUTE)(self._old_protocol)
        return routes

    def counters(self) -> dict[str, int]:
        """`admitted`, `readmitted` (idempotent repeats) and `refused_<reason>` counts."""
        return dict(self._stats)

    def _refuse(
        self, reason: str, detail: str, status: int, headers: dict[str, str] | None = None
    ) -> web.Response:
        """A plaintext refusal, before the request was opened."""
        self._stats[f"refused_{reason}"] += 1
        body = {"reason": reason, "detail": detail}
        return web.json_response(body, status=status, headers=headers)

    def _refused(self, refusal: Refusal) -> web.Response:
        self._stats[f"refused_{refusal.reason}"] += 1
        return refusal_response(refusal, close=True, json=True)

    def _answer(self, channel: Channel, body: dict[str, str], status: int = 200) -> web.Response:
        """A sealed answer: only the newcomer that sent the request opens it."""
        if status != 200:
            self._stats[f"refused_{body['reason']}"] += 1
        sealed = channel.seal_reply(encode_reply(json.dumps(body).encode(), now_ms=now_ms()))
        return web.Response(body=sealed, status=status, content_type=BOX_CONTENT_TYPE)

    async def _old_protocol(self, _request: web.Request) -> web.Response:
        detail = f"this node redeems invites with the encrypted protocol under {PATH_PREFIX}"
        return self._refuse("old_protocol", detail, 426)

    def _transport_refusal(self, err: AuthError) -> web.Response:
        if err.reason == "wrong_recipient":
            detail = (
                f"this node is {self._own_key.hex()}, not the inviter the request is for: "
                "redeem the invite at the inviter's node (an invite naming this node's "
                "address with another key was not made here)"
            )
            return self._refuse(WRONG_NODE, detail, 421)
        if err.reason == "wrong_community":
            name = self._ledger.community.name
            detail = f"the invite is for another community: this node serves {name!r}"
            return self._refuse(InviteWrongCommunityError.reason, detail, 403)
        if err.reason == "too_large":
            detail = f"a redeem request is at most {MAX_REQUEST_BYTES} bytes"
            return self._refuse(RedeemRefusedError.reason, detail, 413)
        if err.reason == "auth_stale" and err.server_time_ms is not None:
            detail = (
                f"the request time is more than 5 minutes from this node's clock "
                f"({err.server_time_ms}): check the newcomer's clock"
            )
            headers = {HEADER_SERVER_TIME: str(err.server_time_ms)}
            return self._refuse(RedeemRefusedError.reason, detail, 400, headers)
        return self._refuse(RedeemRefusedError.reason, err.detail, 400)

    async def _handle(self, request: web.Request) -> web.Response:
        # every redeem request is unauthenticated: rated per address and in all
        refusal = self._gate.screen_redeem(request)
        if refusal is not None:
            return self._refused(refusal)
        async with self._gate.turn() as busy:
            if busy is not None:
                return self._refused(busy)
            try:
                verified, data = await open_sealed(
                    request,
                    self._verifier,
                    MAX_REQUEST_BYTES,
                    now=self._clock_s() * 1000,
                    body_timeout_s=self._gate.limits.body_timeout_s,
                )
            except AuthError as err:
                # the address spends its refusal budget; its unread body is not wanted
                self._gate.charge(request, err.reason)
                response = self._transport_refusal(err)
                response.force_close()
                return response
            return await self._redeem(verified, data)

    async def _redeem(self, verified: Verified, data: bytes) -> web.Response:
        channel = verified.channel
        try:
            parsed = _parse_request(data)
            if parsed.member != verified.sender:
                raise RedeemRefusedError("the member key is not the key that signed the request")
            self._check_proof(parsed)
            if not self._ledger.is_member(self._own_key):
                detail = "this node is not a member yet and cannot admit anyone"
                return self._answer(channel, {"reason": UNAVAILABLE, "detail": detail}, 503)
            async with self._lock:
                await self._admit(parsed)
        except InviteError as err:
            body = {"reason": err.reason, "detail": err.detail}
            return self._answer(channel, body, STATUS_OF_REASON[err.reason])
        except (sqlite3.Error, LedgerError) as err:
            _LOGGER.exception("could not record an admission")
            detail = f"the node could not store the admission: {err}"
            return self._answer(channel, {"reason": UNAVAILABLE, "detail": detail}, 503)
        return self._answer(
            channel,
            {
                "admitted": parsed.member.hex(),
                "by": self._own_key.hex(),
                "community": self._ledger.community.to_bytes().hex(),
            },
        )

    def _check_proof(self, request: _Request) -> None:
        invite = request.invite
        if invite.community.community_id != self._ledger.community_id:
            raise InviteWrongCommunityError(
                f"the invite is for community {invite.community.name!r}, "
                f"this node serves {self._ledger.community.name!r}"
            )
        now_ms = self._clock_s() * 1000
        if abs(request.ts_ms - now_ms) > MAX_CLOCK_SKEW_MS:
            raise RedeemRefusedError(
                f"the request time {request.ts_ms} is more than 5 minutes from this node's "
                f"clock ({now_ms}): check the newcomer's clock"
            )
        message = redeem_message(
            self._ledger.community_id, invite.tag, request.member, request.ts_ms
        )
        if not verify(request.member, message, request.signature):
            raise RedeemRefusedError("the newcomer's signature does not match its key")

    async def _admit(self, request: _Request) -> None:
        invite, member = request.invite, request.member
        admits = [AdmitBody.decode(e.body) for e in await self._ledger.entries(kind=Kind.ADMIT)]
        counts = self._ledger.is_member if self._counted is None else self._counted.is_member
        if counts(member):
            # A retry after a lost reply must succeed, but only for the same invite:
            # otherwise a member could burn other people's invites. A key whose
            # admission does not count (its invite went to another key) may use another.
            if any(a.member == member and a.invite_tag == invite.tag for a in admits):
                self._stats["readmitted"] += 1
                return
            raise InviteUsedError("this key is already a member of the community")
        if self._counted is not None and self._counted.revocation(member) is not None:
            # its admit would never count (docs/protocol.md, "Counted members")
            raise InviteUsedError("this key was revoked: join with a new key (a new data dir)")
        verify_invite(
            invite,
            community=self._ledger.community,
            is_member=self._ledger.is_member,
            used_tags={admit.invite_tag for admit in admits},
            now_s=self._clock_s(),
        )
        self._check_counts(invite)
        body = admit_body(
            self._ledger.community_id,
            member,
            secret=invite.secret,
            inviter=invite.inviter,
            expires_s=invite.expires_s,
            address=invite.address,
            inviter_signature=invite.signature,
        )
        await self._ledger.append(Kind.ADMIT, body.encode())
        self._stats["admitted"] += 1
        _LOGGER.info("admitted %s with invite of %s", member.hex()[:16], invite.inviter.hex()[:16])

    def _check_counts(self, invite: Invite) -> None:
        """Refuse an admission the market would not count (docs/protocol.md, "Counted
        members"), rather than admit a newcomer whose node would then be told so."""
        if self._counted is None:
            return
        verdict = self._counted.inviter_verdict(invite.inviter, self._market_clock_ms())
        if verdict is AdmitVerdict.INVITER_NOT_MEMBER:
            raise InviteForgedError("the inviter does not count as a member")
        if verdict is not AdmitVerdict.COUNTED:
            raise InviteQuotaError(
                "the inviter cannot admit anyone now: it joined less than 30 days ago or "
                f"admitted {ADMISSIONS_PER_PERIOD} households in the last 30 days"
            )
