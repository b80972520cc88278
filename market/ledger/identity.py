"""A node's Ed25519 identity: created on first start, kept owner-readable only."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

from nacl import bindings

from .errors import IdentityError

_LOGGER = logging.getLogger(__name__)

KEY_FILE_NAME = "node_key"
SEED_BYTES = 32
NODE_ID_BYTES = 16


def node_id_of(public_key: bytes) -> str:
    """Return the node id for a public key: hex of the first 16 bytes of its SHA-256."""
    return hashlib.sha256(public_key).digest()[:NODE_ID_BYTES].hex()


class Identity:
    """An Ed25519 key pair. The secret never appears in repr(), str() or logs."""

    __slots__ = ("_box_secret", "_secret", "node_id", "public_key")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise IdentityError(f"an Ed25519 seed is {SEED_BYTES} bytes, got {len(seed)}")
        public_key, secret = bindings.crypto_sign_seed_keypair(seed)
        self.public_key: bytes = public_key
        self._secret: bytes = secret
        # The X25519 half of the same key, for the transport's boxes (docs/protocol.md,
        # "Encrypted requests"): peers know it from the Ed25519 key they already hold.
        self._box_secret: bytes = bindings.crypto_sign_ed25519_sk_to_curve25519(secret)
        self.node_id: str = node_id_of(public_key)

    @classmethod
    def generate(cls) -> Identity:
        """Create a fresh random identity (not persisted)."""
        return cls(os.urandom(SEED_BYTES))

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte detached Ed25519 signature of message."""
        signed: bytes = bindings.crypto_sign(message, self._secret)
        return signed[:64]

    def shared_key(self, their_box_public: bytes) -> bytes:
        """The crypto_box key between this identity and an X25519 public key."""
        shared: bytes = bindings.crypto_box_beforenm(their_box_public, self._box_secret)
        return shared

    def __repr__(self) -> str:
        return f"Identity(node_id={self.node_id})"


def load_or_create_identity(directory: Path) -> Identity:
    """Load the node key from directory, creating it (mode 0600) on first start."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / KEY_FILE_NAME
    if path.exists():
        return _load(path)
    # Write a private temp file, then link it into place: a crash mid-write never leaves
    # a truncated key behind, and of two racing starts exactly one key wins.
    tmp = directory / f".{KEY_FILE_NAME}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)  # left by a crashed start that had our pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, os.urandom(SEED_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    else:
        _LOGGER.info("created node key %s", path)
    finally:
        tmp.unlink()
    return _load(path)


def _load(path: Path) -> Identity:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # A key readable by others is repaired rather than refused: refusing would take
        # the household offline, and the key stays valid as long as nobody copied it.
        _LOGGER.warning("node key %s had mode %o; restricting it to the owner", path, mode)
        path.chmod(0o600)
    return _of_seed(path, path.read_bytes())


def read_identity(directory: Path) -> Identity:
    """The node key in `directory`, only read: never created, its mode left alone (for
    tools that read a node's data, such as `market statement`, maybe as another user).
    Raises IdentityError when there is no key or it is malformed, OSError when it
    cannot be read."""
    path = directory / KEY_FILE_NAME
    if not path.is_file():
        raise IdentityError(f"no node key in {directory}")
    return _of_seed(path, path.read_bytes())


def _of_seed(path: Path, seed: bytes) -> Identity:
    if len(seed) != SEED_BYTES:
        raise IdentityError(f"node key {path} holds {len(seed)} bytes, expected {SEED_BYTES}")
    return Identity(seed)
