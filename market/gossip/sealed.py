"""The boxes of the encrypted transport (docs/protocol.md, "Encrypted requests").

A request is boxed with a fresh X25519 key of the client's (its public half travels in
the signed headers) to the X25519 form of the recipient's Ed25519 key; the reply is
boxed back under the same shared key with another nonce. Only the recipient can open
the request, and only the recipient (or the client itself) can make a reply that opens.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from functools import lru_cache

from nacl import bindings
from nacl.exceptions import CryptoError

from ..ledger.identity import Identity

BOX_DOMAIN = b"p2p-energy/box/v2"
REQUEST_LABEL = b"request"
REPLY_LABEL = b"reply"
MAC_BYTES = 16  # Poly1305: a box is its plaintext plus 16 bytes
KEY_BYTES = 32
BOX_CONTENT_TYPE = "application/x-p2p-box"
FLAG_MORE = 0x01
_REPLY = struct.Struct(">BQ")  # flags u8 | server time u64 (Unix ms)


class BoxError(ValueError):
    """A box does not open, or a key cannot be used for one."""


@lru_cache(maxsize=4096)
def box_public(ed25519_key: bytes) -> bytes:
    """The X25519 public key of an Ed25519 public key (cached: peers are few)."""
    try:
        converted: bytes = bindings.crypto_sign_ed25519_pk_to_curve25519(ed25519_key)
    except (CryptoError, ValueError, TypeError) as err:
        raise BoxError(f"{ed25519_key.hex()} is not a usable Ed25519 key") from err
    return converted


def box_nonce(label: bytes, request_nonce: bytes) -> bytes:
    """The 24-byte box nonce: SHA-256(domain · 0x00 · label · 0x00 · request nonce)[:24]."""
    return hashlib.sha256(BOX_DOMAIN + b"\x00" + label + b"\x00" + request_nonce).digest()[:24]


class Channel:
    """One request's shared box key and its two nonces."""

    __slots__ = ("_key", "_reply_nonce", "_request_nonce")

    def __init__(self, key: bytes, request_nonce: bytes) -> None:
        self._key = key
        self._request_nonce = box_nonce(REQUEST_LABEL, request_nonce)
        self._reply_nonce = box_nonce(REPLY_LABEL, request_nonce)

    @classmethod
    def open_to(
        cls, recipient: bytes, request_nonce: bytes, ephemeral_secret: bytes | None = None
    ) -> tuple[Channel, bytes]:
        """The client's side: a channel to `recipient` (an Ed25519 key) and the public
        half of the fresh X25519 key it uses."""
        secret = os.urandom(KEY_BYTES) if ephemeral_secret is None else ephemeral_secret
        public: bytes = bindings.crypto_scalarmult_base(secret)
        try:
            key: bytes = bindings.crypto_box_beforenm(box_public(recipient), secret)
        except CryptoError as err:
            raise BoxError("the recipient's key gives no shared key") from err
        return cls(key, request_nonce), public

    @classmethod
    def accept(cls, identity: Identity, ephemeral: bytes, request_nonce: bytes) -> Channel:
        """The server's side, from the client's X25519 public key."""
        try:
            return cls(identity.shared_key(ephemeral), request_nonce)
        except (CryptoError, ValueError, TypeError) as err:
            # a low-order point: no shared secret
            raise BoxError("the ephemeral key gives no shared key") from err

    def seal_request(self, plaintext: bytes) -> bytes:
        """The request body."""
        return _seal(plaintext, self._request_nonce, self._key)

    def open_request(self, box: bytes) -> bytes:
        """The request's plaintext; raises BoxError."""
        return _open(box, self._request_nonce, self._key)

    def seal_reply(self, plaintext: bytes) -> bytes:
        """The reply body."""
        return _seal(plaintext, self._reply_nonce, self._key)

    def open_reply(self, box: bytes) -> bytes:
        """The reply's plaintext; raises BoxError (a reply its recipient did not make)."""
        return _open(box, self._reply_nonce, self._key)


def _seal(plaintext: bytes, nonce: bytes, key: bytes) -> bytes:
    sealed: bytes = bindings.crypto_box_afternm(plaintext, nonce, key)
    return sealed


def _open(box: bytes, nonce: bytes, key: bytes) -> bytes:
    try:
        opened: bytes = bindings.crypto_box_open_afternm(box, nonce, key)
    except (CryptoError, ValueError, TypeError) as err:
        raise BoxError("the box does not open") from err
    return opened


@dataclass(frozen=True, slots=True)
class Reply:
    """An opened reply: whether more remains (pull), the server's clock, the payload."""

    payload: bytes
    more: bool
    server_ms: int


def encode_reply(payload: bytes, *, more: bool = False, now_ms: int) -> bytes:
    """flags u8 (bit 0: more) | server time u64 (Unix ms) | payload."""
    return _REPLY.pack(FLAG_MORE if more else 0, now_ms) + payload


def decode_reply(data: bytes) -> Reply:
    """Inverse of encode_reply; raises BoxError (an opened box is the recipient's, so a
    short one is a broken peer, not an attacker)."""
    if len(data) < _REPLY.size:
        raise BoxError(f"a reply of {len(data)} bytes has no header")
    flags, server_ms = _REPLY.unpack_from(data)
    return Reply(data[_REPLY.size :], bool(flags & FLAG_MORE), server_ms)
