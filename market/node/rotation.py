"""Key rotation: a household hands its membership on to a new key (docs/node.md,
"Rotating the key").

The new key is written to DIR/rotating/node_key before the rotate entry is signed, and
moved over DIR/node_key once the entry is committed, so that a crash at any point
leaves either the old key (no rotate held: the pending key is discarded) or the means
to finish (the rotate is held: the pending key is promoted at the next open). Losing
the new key after the old one was revoked would take the household out for good.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable

from ..ledger import Kind, Ledger, RotateBody
from ..ledger.community import Community
from ..ledger.errors import StorageError
from ..ledger.identity import KEY_FILE_NAME, Identity, load_or_create_identity
from ..ledger.revocation import rotate_message
from .datadir import DataDir
from .errors import NodeSetupError

_LOGGER = logging.getLogger(__name__)

PENDING_DIR = "rotating"


async def _in_executor(func: Callable[[], object]) -> None:
    await asyncio.get_running_loop().run_in_executor(None, func)


def _promote(data: DataDir) -> None:
    pending = data.path / PENDING_DIR
    (pending / KEY_FILE_NAME).replace(data.path / KEY_FILE_NAME)
    shutil.rmtree(pending, ignore_errors=True)


async def rotate_key(ledger: Ledger, identity: Identity, data: DataDir) -> Identity:
    """Sign the rotate of `identity` onto a fresh key and make that the node's key."""
    loop = asyncio.get_running_loop()
    new = await loop.run_in_executor(None, load_or_create_identity, data.path / PENDING_DIR)
    proof = new.sign(rotate_message(ledger.community_id, identity.public_key))
    await ledger.append(Kind.ROTATE, RotateBody(new.public_key, proof).encode())
    await _in_executor(lambda: _promote(data))
    _LOGGER.warning(
        "rotated node key %s to %s: restart the node to sign with the new key",
        identity.node_id,
        new.node_id,
    )
    return new


async def open_ledger(
    data: DataDir,
    community: Community,
    identity: Identity,
    *,
    clock_ms: Callable[[], int],
    synchronous: str,
) -> tuple[Ledger, Identity]:
    """Open the node's ledger, finishing (or discarding) a rotation a crash interrupted;
    returns the ledger and the key the node signs with. Raises NodeSetupError when the
    database cannot be opened."""

    async def _open(key: Identity) -> Ledger:
        try:
            return await Ledger.open(
                data.ledger_dir, community, key, clock_ms=clock_ms, synchronous=synchronous
            )
        except (StorageError, OSError) as err:
            raise NodeSetupError(f"cannot open the ledger in {data.ledger_dir}: {err}") from err

    ledger = await _open(identity)
    pending = data.path / PENDING_DIR / KEY_FILE_NAME
    if not await asyncio.get_running_loop().run_in_executor(None, pending.exists):
        return ledger, identity
    new = await asyncio.get_running_loop().run_in_executor(
        None, load_or_create_identity, pending.parent
    )
    rotates = await ledger.entries(author=identity.public_key, kind=Kind.ROTATE)
    if not any(RotateBody.decode(entry.body).new_key == new.public_key for entry in rotates):
        _LOGGER.warning("discarding the key of a rotation that was never signed")
        await _in_executor(lambda: shutil.rmtree(pending.parent, ignore_errors=True))
        return ledger, identity
    _LOGGER.warning("finishing the rotation of node key %s to %s", identity.node_id, new.node_id)
    await ledger.close()
    await _in_executor(lambda: _promote(data))
    return await _open(new), new
