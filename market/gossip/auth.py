"""Signed requests: every sync request carries its author's key, a timestamp, a nonce
and an Ed25519 signature over the method, path, community, time, nonce and body hash.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from ..ledger.codec import verify
from ..ledger.identity import Identity

HEADER_KEY = "X-P2P-Key"
HEADER_TIME = "X-P2P-Time"
HEADER_NONCE = "X-P2P-Nonce"
HEADER_SIGNATURE = "X-P2P-Signature"
DOMAIN = b"p2p-energy/request/v1"
NONCE_BYTES = 16


class AuthError(Exception):
    """A request's signature headers are refused; `reason` names the counter."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def request_message(
    method: str, path: str, community_id: bytes, ts_ms: int, nonce: str, body: bytes
) -> bytes:
    """The exact bytes a request signature covers (see docs/protocol.md)."""
    return b"\n".join(
        (
            DOMAIN,
            method.upper().encode(),
            path.encode(),
            community_id.hex().encode(),
            str(ts_ms).encode(),
            nonce.encode(),
            hashlib.sha256(body).hexdigest().encode(),
        )
    )


def sign_request(
    identity: Identity,
    method: str,
    path: str,
    community_id: bytes,
    body: bytes,
    now_ms: int | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request."""
    ts_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    nonce = os.urandom(NONCE_BYTES).hex()
    message = request_message(method, path, community_id, ts_ms, nonce, body)
    return {
        HEADER_KEY: identity.public_key.hex(),
        HEADER_TIME: str(ts_ms),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: identity.sign(message).hex(),
    }


class RequestVerifier:
    """Checks signed requests: member key, fresh timestamp, unused nonce, valid signature."""

    def __init__(
        self,
        community_id: bytes,
        is_member: Callable[[bytes], bool],
        window_s: float = 30.0,
        max_nonces_per_key: int = 4096,
    ) -> None:
        self._community_id = community_id
        self._is_member = is_member
        self._window_ms = int(window_s * 1000)
        self._max_nonces = max_nonces_per_key
        # Per key: nonce -> timestamp, oldest first. Entries older than the window are
        # dropped: a request that old is refused for its timestamp anyway.
        self._seen: dict[bytes, OrderedDict[str, int]] = {}

    def verify(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        now_ms: int | None = None,
    ) -> bytes:
        """Return the requesting member's key, or raise AuthError."""
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        try:
            key = bytes.fromhex(headers[HEADER_KEY])
            ts_ms = int(headers[HEADER_TIME])
            nonce = headers[HEADER_NONCE]
            signature = bytes.fromhex(headers[HEADER_SIGNATURE])
        except (KeyError, ValueError) as err:
            raise AuthError("auth_malformed", f"missing or malformed header: {err}") from err
        if len(key) != 32 or len(signature) != 64 or len(nonce) != 2 * NONCE_BYTES:
            raise AuthError("auth_malformed", "bad key, nonce or signature length")
        if abs(now - ts_ms) > self._window_ms:
            raise AuthError("auth_stale", f"timestamp {ts_ms} outside the window at {now}")
        if not self._is_member(key):
            raise AuthError("not_member", f"{key.hex()} is not a member")
        seen = self._seen.setdefault(key, OrderedDict())
        if nonce in seen:
            raise AuthError("replay", f"nonce {nonce} already used")
        message = request_message(method, path, self._community_id, ts_ms, nonce, body)
        if not verify(key, message, signature):
            raise AuthError("auth_signature", "request signature is invalid")
        self._remember(seen, nonce, ts_ms, now)
        return key

    def _remember(self, seen: OrderedDict[str, int], nonce: str, ts_ms: int, now: int) -> None:
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
