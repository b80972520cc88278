"""A node's data directory: key, community descriptor, ledger, address and known peers.

DIR/node_key          Ed25519 seed (0600), created on first start
DIR/community.json    the community descriptor (terms included)
DIR/ledger/           the SQLite ledger
DIR/node.json         where the running node listens (read by `market invite`)
DIR/peers.json        peers learned from invites and discovery, kept across restarts
DIR/agent_orders.json which agent placed which of the node's open orders
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from .. import jsontext
from ..ledger.community import Community
from ..ledger.errors import IdentityError, InvalidCommunityError
from ..ledger.identity import Identity, load_or_create_identity
from .errors import DataDirError, NodeSetupError

_LOGGER = logging.getLogger(__name__)

COMMUNITY_FILE = "community.json"
LEDGER_DIR = "ledger"
ADDRESS_FILE = "node.json"
PEERS_FILE = "peers.json"
AGENT_ORDERS_FILE = "agent_orders.json"
STEERED_FILE = "steered_loads.json"
PRICES_FILE = "prices.json"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash never leaves half a file behind."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


@dataclass(frozen=True, slots=True)
class DataDir:
    """Paths and small files of one node."""

    path: Path

    @property
    def ledger_dir(self) -> Path:
        """Where the ledger's SQLite file lives."""
        return self.path / LEDGER_DIR

    def identity(self) -> Identity:
        """The node's key, created on first use. Raises DataDirError when it can be
        neither read nor created (the OSError says why)."""
        self._check_is_directory()
        try:
            return load_or_create_identity(self.path)
        except OSError as err:
            raise DataDirError(f"cannot read or create the node key in {self.path}: {err}") from err
        except IdentityError as err:
            raise NodeSetupError(str(err)) from err

    def for_node(self) -> tuple[Identity, Community]:
        """The key and community of a node about to start here, once it is known that
        it can write here (a read-only directory is refused now, not at the first seal).
        Raises NodeSetupError, or DataDirError for a directory it cannot use."""
        identity, community = self.identity(), self.community()
        self.check_writable()
        return identity, community

    def check_writable(self) -> None:
        """Raise DataDirError unless the node can write in its directory and its
        ledger's: found at start, not at the first order or seal."""
        self._check_is_directory()
        for directory in (self.path, self.ledger_dir):
            if not directory.is_dir():
                continue  # created by the ledger when it first opens
            probe = directory / f".write-test.{os.getpid()}"
            try:
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as err:
                raise DataDirError(f"cannot write in {directory}: {err}") from err

    def _check_is_directory(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise DataDirError(f"{self.path} is not a directory")

    def has_community(self) -> bool:
        """Whether this node has created or joined a community."""
        return (self.path / COMMUNITY_FILE).exists()

    def community(self) -> Community:
        """The community this node belongs to."""
        path = self.path / COMMUNITY_FILE
        if not path.exists():
            raise NodeSetupError(
                f"{self.path} holds no community: create one (--create NAME) "
                "or join one (--join INVITE)"
            )
        try:
            return Community.load(path)
        except (InvalidCommunityError, OSError) as err:
            raise NodeSetupError(f"unreadable community descriptor {path}: {err}") from err

    def save_community(self, community: Community) -> None:
        """Record the community; refuses to switch a node to another one."""
        try:
            self._save_community(community)
        except OSError as err:
            raise DataDirError(f"cannot record the community in {self.path}: {err}") from err

    def _save_community(self, community: Community) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if self.has_community():
            current = self.community()
            if current.community_id != community.community_id:
                raise NodeSetupError(
                    f"{self.path} already belongs to community {current.name!r}; "
                    "use another data directory"
                )
            return
        write_atomically(self.path / COMMUNITY_FILE, community.to_json())

    def save_address(self, address: str) -> None:
        """Record the address peers and invitees reach this node at."""
        try:
            write_atomically(self.path / ADDRESS_FILE, json.dumps({"address": address}))
        except OSError as err:
            raise DataDirError(f"cannot record the address in {self.path}: {err}") from err

    def address(self) -> str | None:
        """The address a running (or the last) node recorded."""
        try:
            raw = jsontext.loads((self.path / ADDRESS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        address = raw.get("address") if isinstance(raw, dict) else None
        return address if isinstance(address, str) else None

    def peers(self) -> list[str]:
        """Peer URLs remembered from earlier runs."""
        try:
            raw = jsontext.loads((self.path / PEERS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [url for url in raw if isinstance(url, str)] if isinstance(raw, list) else []

    def save_peers(self, urls: list[str]) -> None:
        """Remember peer URLs for the next start."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path / PEERS_FILE, json.dumps(sorted(set(urls))))

    def agent_orders(self) -> dict[str, str]:
        """Order id -> id of the agent that placed it, as recorded by the last run."""
        try:
            raw = jsontext.loads((self.path / AGENT_ORDERS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}

    def save_agent_orders(self, orders: dict[str, str]) -> None:
        """Record which agent placed which open order."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path / AGENT_ORDERS_FILE, json.dumps(orders, sort_keys=True))

    def steered_loads(self) -> dict[int, int]:
        """Slot start -> Wh the household's steered loads bought in it, as recorded by
        the last run (empty when missing or unreadable: the forecast then learns those
        slots' whole import, as before the file existed)."""
        return self._slot_table(STEERED_FILE, positive=True)

    def save_steered_loads(self, steered: dict[int, int]) -> None:
        """Record what the household's steered loads bought, by slot start."""
        self._save_slot_table(STEERED_FILE, steered)

    def prices(self) -> dict[int, int]:
        """Slot start -> the price it cleared at (ticks; the ceiling for no trade), as
        the last run learned them (empty when missing or unreadable)."""
        return self._slot_table(PRICES_FILE, positive=False)

    def save_prices(self, prices: dict[int, int]) -> None:
        """Record the cleared prices the planners learn from, by slot start."""
        self._save_slot_table(PRICES_FILE, prices)

    def _slot_table(self, name: str, *, positive: bool) -> dict[int, int]:
        # the node's own file, but a disk can corrupt it: what is not a slot -> int
        # pair is left out, and an unreadable file is an empty table
        try:
            raw = jsontext.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        least = 1 if positive else 0
        found: dict[int, int] = {}
        for key, value in raw.items():
            if key.isascii() and key.isdigit() and type(value) is int and value >= least:
                found[int(key)] = value
        return found

    def _save_slot_table(self, name: str, table: dict[int, int]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        text = json.dumps({str(slot): value for slot, value in sorted(table.items())})
        write_atomically(self.path / name, text)


async def save_slot_table(
    save: Callable[[dict[int, int]], None],
    table: dict[int, int],
    stats: MutableMapping[str, int],
    counter: str,
) -> bool:
    """Write a slot table (`save`: a DataDir method) off the event loop. A failed write
    is counted in `stats[counter]` and logged at debug level; False tells the caller to
    keep the table dirty and try again with the next save."""
    try:
        await asyncio.get_running_loop().run_in_executor(None, save, table)
    except OSError as err:
        stats[counter] += 1
        _LOGGER.debug("could not write a slot table (%s): %s", counter, err)
        return False
    return True
