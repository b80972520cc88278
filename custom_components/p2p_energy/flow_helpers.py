"""What the config flow does besides asking: tidy names, check peer addresses, read
the node's data directory and join with an invite (through market.node.setup).

Functions marked blocking touch the disk: run them in the executor.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from market.ledger.community import Community
from market.ledger.errors import InvalidCommunityError
from market.node.datadir import DataDir
from market.node.errors import InviteError, NodeSetupError, RedeemFailedError
from market.node.invite import Invite, verify_invite
from market.node.setup import join_with_invite
from market.terms import CommunityTerms

from .const import (
    CONF_BUY_CONSUMPTION,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_MIN_SELL_PRICE,
    CONF_PEERS,
    CONF_SELL_SURPLUS,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BUY_CONSUMPTION,
    DEFAULT_FLEXIBLE_LOAD,
    DEFAULT_FLEXIBLE_LOAD_W,
    DEFAULT_MAX_EXPORT_W,
    DEFAULT_MAX_IMPORT_W,
    DEFAULT_SELL_SURPLUS,
    DEFAULT_UPDATE_INTERVAL_S,
)

# Community names are at most 64 UTF-8 bytes in the descriptor; node names are announced
# on the LAN and shown to neighbours, so the same bound keeps both short.
NAME_MAX_BYTES = 64

# Why an invite was refused, as the flow's translated error keys.
INVITE_ERROR_KEYS = frozenset(
    {
        "malformed",
        "mistyped",
        "forged",
        "expired",
        "used",
        "quota",
        "wrong_community",
        "unreachable",
        "bad_request",
    }
)

# Errors a node directory may raise while it is written or read.
STORAGE_ERRORS = (OSError, NodeSetupError, InvalidCommunityError)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PORT = re.compile(r"[0-9]{1,5}")


def tidy_name(raw: object) -> str:
    """A name as typed, without control characters and with single spaces."""
    text = "".join(ch for ch in str(raw) if unicodedata.category(ch) != "Cc" or ch.isspace())
    return " ".join(text.split())


def name_error(name: str) -> str | None:
    """The error key for a tidied name, or None when it can be used."""
    if not name:
        return "name_required"
    if len(name.encode()) > NAME_MAX_BYTES:
        return "name_too_long"
    return None


class InvalidPeerError(ValueError):
    """A peer address that is not host:port."""

    def __init__(self, peer: str) -> None:
        super().__init__(f"not a host:port address: {peer!r}")
        self.peer = peer


def parse_peer(text: str) -> str:
    """`host:port` from what a person typed (an `http://host:port/` URL is accepted too).

    Raises InvalidPeerError.
    """
    address = text.strip()
    if address.lower().startswith("http://"):
        address = address[len("http://") :]
    address = address.rstrip("/")
    host, sep, port = address.rpartition(":")
    if not sep or not _PORT.fullmatch(port) or not 1 <= int(port) <= 0xFFFF:
        raise InvalidPeerError(text.strip())
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise InvalidPeerError(text.strip()) from None
    elif not _HOSTNAME.fullmatch(host) or len(host) > 253:
        raise InvalidPeerError(text.strip())
    return f"{host}:{int(port)}"


def parse_peers(values: Iterable[str]) -> list[str]:
    """Peer addresses without blanks or repeats, in the order given.

    Raises InvalidPeerError naming the first one that is not host:port.
    """
    peers: list[str] = []
    for value in values:
        if not value.strip():
            continue
        peer = parse_peer(value)
        if peer not in peers:
            peers.append(peer)
    return peers


def entry_peers(data: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """The peers a node of a config entry should sync with ("host:port").

    The options flow edits them in the options; the set-up and reconfigure steps
    write them in the data (reconfigure keeps both in step). Options win.
    """
    peers = options.get(CONF_PEERS, data.get(CONF_PEERS, []))
    return [peer for peer in peers if isinstance(peer, str)]


def default_options(terms: CommunityTerms) -> dict[str, Any]:
    """A new entry's options: trade anywhere between the community's price bounds."""
    return {
        CONF_UPDATE_INTERVAL: DEFAULT_UPDATE_INTERVAL_S,
        CONF_MAX_BUY_PRICE: terms.ceiling,
        CONF_MIN_SELL_PRICE: terms.floor,
        CONF_SELL_SURPLUS: DEFAULT_SELL_SURPLUS,
        CONF_BUY_CONSUMPTION: DEFAULT_BUY_CONSUMPTION,
        CONF_FLEXIBLE_LOAD: DEFAULT_FLEXIBLE_LOAD,
        CONF_FLEXIBLE_LOAD_W: DEFAULT_FLEXIBLE_LOAD_W,
        CONF_MAX_IMPORT_W: DEFAULT_MAX_IMPORT_W,
        CONF_MAX_EXPORT_W: DEFAULT_MAX_EXPORT_W,
    }


# ---------------------------------------------------------------- the node's data dir


def read_community(path: Path) -> Community | None:
    """The community of the data dir at `path`, None if it holds none or an unreadable
    one (the options then fall back to the default terms). Blocking."""
    data = DataDir(path)
    try:
        return data.community() if data.has_community() else None
    except (NodeSetupError, OSError):
        return None


def remove_node_dir(path: Path) -> None:
    """Forget a node that never became a config entry. Blocking."""
    shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- invites


def invite_error_key(err: InviteError) -> str:
    """The flow's error key for a refused invite."""
    return err.reason if err.reason in INVITE_ERROR_KEYS else "unknown"


def check_invite(invite: Invite, *, now_s: int) -> None:
    """Refuse what needs no network, by the engine's own checks: a signature that does
    not match, an expired invite. Who joined after the descriptor was written, and which
    invites were used, only the community's nodes know: they check those at redemption.
    """
    verify_invite(
        invite,
        community=invite.community,
        is_member=lambda _key: True,
        used_tags=(),
        now_s=now_s,
    )


@dataclass(frozen=True, slots=True)
class Joined:
    """Where an invite was redeemed, and the key it admitted (this node's)."""

    address: str
    member: bytes


async def join_at_first(
    session: aiohttp.ClientSession, data: DataDir, code: str, addresses: Sequence[str]
) -> Joined:
    """Join with the invite `code` at the first of `addresses` ("host:port") that
    answers; the engine's join_with_invite records the community and that member in
    `data`.

    A member that refuses the invite ends the search (any member would refuse it too);
    only an unreachable node, or one that cannot admit yet, moves on to the next.
    Raises the InviteError of the refusal, or the last RedeemFailedError; the storage
    errors of `data` as they come.
    """
    failure = RedeemFailedError("no member address to redeem the invite at")
    for address in dict.fromkeys(addresses):
        try:
            _invite, result = await join_with_invite(
                data, code, session, now_ms=time.time_ns() // 1_000_000, url=f"http://{address}"
            )
        except RedeemFailedError as err:
            failure = err
            continue
        return Joined(address, result.member)
    raise failure
