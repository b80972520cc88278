"""Signed, recipient-bound, encrypted requests (docs/protocol.md, "Encrypted requests").

The headers carry the sender's and the recipient's keys, a timestamp, a nonce, the
client's ephemeral X25519 key and an Ed25519 signature over all of them, the method,
path, community and Content-Length; the body is a box only the recipient opens. A
server checks every header before it reads a byte of the body.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..ledger.codec import verify
from ..ledger.identity import Identity
from .sealed import MAC_BYTES, BoxError, Channel

HEADER_KEY = "X-P2P-Key"
HEADER_TO = "X-P2P-To"
HEADER_COMMUNITY = "X-P2P-Community"
HEADER_TIME = "X-P2P-Time"
HEADER_NONCE = "X-P2P-Nonce"
HEADER_EPHEMERAL = "X-P2P-Ephemeral"
HEADER_SIGNATURE = "X-P2P-Signature"
# On an `auth_stale` refusal: the server's clock, so a client can say how far off it is.
HEADER_SERVER_TIME = "X-P2P-Server-Time"
DOMAIN = b"p2p-energy/request/v2"
NONCE_BYTES = 16
KEY_BYTES = 32
SIGNATURE_BYTES = 64

STATUS_OF_AUTH: dict[str, int] = {
    "length_required": 411,
    "too_large": 413,
    "truncated": 400,
    "auth_malformed": 403,
    "wrong_community": 403,
    "wrong_recipient": 421,
    "not_member": 403,
    "auth_stale": 403,
    "replay": 403,
    "auth_signature": 403,
    "rate_limited": 429,
    "auth_box": 400,
    "body_timeout": 408,
}


class AuthError(Exception):
    """A request's headers are refused; `reason` names the counter."""

    def __init__(self, reason: str, detail: str, server_time_ms: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = STATUS_OF_AUTH[reason]
        self.server_time_ms = server_time_ms


def now_ms() -> int:
    """The wall clock (Unix ms): the transport's, whatever clock the market runs on."""
    return time.time_ns() // 1_000_000


def request_message(
    method: str,
    path: str,
    community_id: bytes,
    sender: bytes,
    recipient: bytes,
    ts_ms: int,
    nonce: bytes,
    ephemeral: bytes,
    content_length: int,
) -> bytes:
    """The exact bytes a request signature covers (see docs/protocol.md)."""
    return b"\n".join(
        (
            DOMAIN,
            method.upper().encode(),
            path.encode(),
            community_id.hex().encode(),
            sender.hex().encode(),
            recipient.hex().encode(),
            str(ts_ms).encode(),
            nonce.hex().encode(),
            ephemeral.hex().encode(),
            str(content_length).encode(),
        )
    )


@dataclass(frozen=True, slots=True)
class SealedRequest:
    """What a client sends (`headers`, `body`) and keeps to open the reply."""

    headers: dict[str, str]
    body: bytes
    channel: Channel
    sent_ms: int


def seal_request(
    identity: Identity,
    recipient: bytes,
    method: str,
    path: str,
    community_id: bytes,
    plaintext: bytes,
    *,
    ts_ms: int | None = None,
    nonce: bytes | None = None,
    ephemeral_secret: bytes | None = None,
) -> SealedRequest:
    """Box `plaintext` to `recipient` and sign the headers (nonce and ephemeral key are
    random unless given: test vectors only)."""
    ts = now_ms() if ts_ms is None else ts_ms
    request_nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    channel, ephemeral = Channel.open_to(recipient, request_nonce, ephemeral_secret)
    body = channel.seal_request(plaintext)
    message = request_message(
        method,
        path,
        community_id,
        identity.public_key,
        recipient,
        ts,
        request_nonce,
        ephemeral,
        len(body),
    )
    headers = {
        HEADER_KEY: identity.public_key.hex(),
        HEADER_TO: recipient.hex(),
        HEADER_COMMUNITY: community_id.hex(),
        HEADER_TIME: str(ts),
        HEADER_NONCE: request_nonce.hex(),
        HEADER_EPHEMERAL: ephemeral.hex(),
        HEADER_SIGNATURE: identity.sign(message).hex(),
    }
    return SealedRequest(headers, body, channel, ts)


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose headers passed: its sender and the channel to open its body."""

    sender: bytes
    ts_ms: int
    channel: Channel


def _hex(headers: Mapping[str, str], name: str, size: int) -> bytes:
    value = bytes.fromhex(headers[name])
    if len(value) != size:
        raise ValueError(f"{name} is {len(value)} bytes, not {size}")
    return value


class RequestVerifier:
    """Checks a request's headers: recipient, member, freshness, unused nonce, signature.

    `is_member` None accepts any sender and remembers no nonce (the redeem route, whose
    newcomers are no members yet: a replay there repeats an idempotent answer that only
    the request's own sender can open)."""

    def __init__(
        self,
        identity: Identity,
        community_id: bytes,
        is_member: Callable[[bytes], bool] | None,
        window_s: float = 30.0,
        max_nonces_per_key: int = 4096,
    ) -> None:
        self._identity = identity
        self._community_id = community_id
        self._is_member = is_member
        self._window_ms = int(window_s * 1000)
        self._max_nonces = max_nonces_per_key
        # Per key: nonce -> timestamp, oldest first. Entries older than the window are
        # dropped: a request that old is refused for its timestamp anyway.
        self._seen: dict[bytes, OrderedDict[bytes, int]] = {}

    def verify(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        content_length: int,
        now: int | None = None,
    ) -> Verified:
        """The verified request, or AuthError. Reads headers only."""
        now = now_ms() if now is None else now
        try:
            sender = _hex(headers, HEADER_KEY, KEY_BYTES)
            recipient = _hex(headers, HEADER_TO, KEY_BYTES)
            community = _hex(headers, HEADER_COMMUNITY, KEY_BYTES)
            ts_ms = int(headers[HEADER_TIME])
            nonce = _hex(headers, HEADER_NONCE, NONCE_BYTES)
            ephemeral = _hex(headers, HEADER_EPHEMERAL, KEY_BYTES)
            signature = _hex(headers, HEADER_SIGNATURE, SIGNATURE_BYTES)
        except (KeyError, ValueError) as err:
            raise AuthError("auth_malformed", f"missing or malformed header: {err}") from err
        if community != self._community_id:
            # signed too, but said first: the sender learns why, not "bad signature"
            raise AuthError("wrong_community", f"this node serves {self._community_id.hex()}")
        if recipient != self._identity.public_key:
            raise AuthError(
                "wrong_recipient",
                f"this node is {self._identity.public_key.hex()}, not {recipient.hex()}",
            )
        if self._is_member is not None and not self._is_member(sender):
            raise AuthError("not_member", f"{sender.hex()} is not a member")
        if abs(now - ts_ms) > self._window_ms:
            raise AuthError("auth_stale", f"timestamp {ts_ms} outside the window at {now}", now)
        remember = self._is_member is not None
        seen = self._seen.setdefault(sender, OrderedDict()) if remember else None
        if seen is not None and nonce in seen:
            raise AuthError("replay", f"nonce {nonce.hex()} already used")
        message = request_message(
            method,
            path,
            self._community_id,
            sender,
            recipient,
            ts_ms,
            nonce,
            ephemeral,
            content_length,
        )
        if content_length < MAC_BYTES or not verify(sender, message, signature):
            raise AuthError("auth_signature", "request signature is invalid")
        if seen is not None:
            self._remember(seen, nonce, ts_ms, now)
        try:
            channel = Channel.accept(self._identity, ephemeral, nonce)
        except BoxError as err:
            raise AuthError("auth_box", str(err)) from err
        return Verified(sender, ts_ms, channel)

    def _remember(self, seen: OrderedDict[bytes, int], nonce: bytes, ts_ms: int, now: int) -> None:
        horizon = now - self._window_ms
        while seen:
            _oldest_nonce, oldest_ts = next(iter(seen.items()))
            if oldest_ts >= horizon and len(seen) < self._max_nonces:
                break
            if oldest_ts >= horizon:
                # Full of fresh nonces: forgetting one would reopen a replay, so keep the
                # window honest by refusing instead (the peer is over any sane rate anyway).
                raise AuthError("rate_limited", "too many requests inside the replay window")
            seen.popitem(last=False)
        seen[nonce] = ts_ms
