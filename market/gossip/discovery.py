"""LAN discovery of gossip peers over mDNS/DNS-SD (python-zeroconf).

A node announces `_p2p-energy._tcp.local.` with its community id, node key, gossip
port and protocol version in TXT records, and nothing else: anyone on the LAN hears an
announcement, so it carries no household name (the instance label is
`p2p-energy-<key hex[:8]>`; docs/protocol.md, "Discovery"). `ZeroconfBrowser` resolves
announcements of the same community and hands them to the gossip layer, which adds the
peer:

    browser = ZeroconfBrowser(
        aiozc, community_id, own_key,
        on_peer=lambda a: peers.add(a.url, key=a.node_id),
        on_gone=peers.remove,
    )

The `AsyncZeroconf` instance is always injected: Home Assistant wants integrations to
share its one responder (`homeassistant.components.zeroconf.async_get_async_instance`),
so only the headless node opens its own, with `open_zeroconf()`.

Discovery is only a hint of where a peer listens: the key it announces is not
authenticated here, every gossip request is still signed and checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE: Final = "_p2p-energy._tcp.local."
PROTOCOL_VERSION: Final = "1"
SUPPORTED_PROTOCOLS: Final = frozenset({PROTOCOL_VERSION})

KEY_BYTES: Final = 32
_INSTANCE_PREFIX: Final = "p2p-energy"
_BROADCAST: Final = ipaddress.IPv4Address("255.255.255.255")

_HEX_KEY = re.compile(rf"[0-9a-fA-F]{{{2 * KEY_BYTES}}}")
_PORT = re.compile(r"[0-9]{1,5}")

# zeroconf gives bytes, Home Assistant's ZeroconfServiceInfo gives str. (TypeAlias, not
# a `type` statement: the engine runs on Python 3.11.)
TxtProperties: TypeAlias = (
    Mapping[bytes, bytes | None]
    | Mapping[str, str | None]
    | Mapping[str | bytes, str | bytes | None]
)


class InvalidAnnouncementError(ValueError):
    """An announcement (TXT records, host or port) that cannot describe a peer."""


@dataclass(frozen=True, slots=True)
class NodeAnnouncement:
    """What a node announces on the LAN: which community, which key, where its gossip
    server listens, and which protocol it speaks. Nothing else: no name."""

    community_id: bytes
    node_id: bytes
    host: str
    port: int
    protocol: str = PROTOCOL_VERSION

    def __post_init__(self) -> None:
        for field, value in (("community_id", self.community_id), ("node_id", self.node_id)):
            if len(value) != KEY_BYTES:
                raise InvalidAnnouncementError(
                    f"{field} must be {KEY_BYTES} bytes, got {len(value)}"
                )
        try:
            address = ipaddress.IPv4Address(self.host)
        except ValueError:
            raise InvalidAnnouncementError(f"host {self.host!r} is not an IPv4 address") from None
        if address.is_unspecified or address.is_multicast or address == _BROADCAST:
            raise InvalidAnnouncementError(f"host {self.host} cannot be a peer address")
        # Peer URLs are compared as strings by the peer table.
        object.__setattr__(self, "host", str(address))
        if isinstance(self.port, bool) or not 0 < self.port < 65536:
            raise InvalidAnnouncementError(f"port {self.port!r} is out of range")
        if self.protocol not in SUPPORTED_PROTOCOLS:
            raise InvalidAnnouncementError(
                f"unsupported protocol {self.protocol!r} (supported: {sorted(SUPPORTED_PROTOCOLS)})"
            )

    @property
    def url(self) -> str:
        """Base URL of the node's gossip server, as the peer table keys it."""
        return f"http://{self.host}:{self.port}"

    def instance_name(self) -> str:
        """The DNS-SD instance label, `p2p-energy-<node key hex[:8]>`: the same across
        restarts, and naming no household (browsers show it to anyone on the LAN)."""
        return f"{_INSTANCE_PREFIX}-{self.node_id.hex()[:8]}"

    def to_service_info(self) -> AsyncServiceInfo:
        """A service info ready for `AsyncZeroconf.async_register_service`."""
        node_hex = self.node_id.hex()
        properties: dict[bytes, bytes | None] = {
            b"cid": self.community_id.hex().encode(),
            b"nid": node_hex.encode(),
            b"port": str(self.port).encode(),
            b"proto": self.protocol.encode(),
        }
        return AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.instance_name()}.{SERVICE_TYPE}",
            port=self.port,
            properties=properties,
            # Our own host name, distinct from the machine's (Home Assistant already
            # answers for homeassistant.local.), unique through the key prefix.
            server=f"p2p-energy-{node_hex[:16]}.local.",
            parsed_addresses=[self.host],
        )

    @classmethod
    def from_txt(
        cls, properties: TxtProperties, host: str, port: int | None = None
    ) -> NodeAnnouncement:
        """Parse TXT records (bytes from zeroconf, or str from Home Assistant).

        `host` and `port` come from the resolved A and SRV records; the TXT `port`
        must agree with the SRV port when both are known, since a mismatch means a
        misconfigured or forged announcement and either port could be the wrong one.
        Other keys are ignored (the `name` that nodes before issue #15 announced, too:
        it is never shown, being unauthenticated and not for outsiders' ears).
        Raises InvalidAnnouncementError naming the offending field.
        """
        txt = _normalise(properties)
        community_id = _key_field(txt, "cid")
        node_id = _key_field(txt, "nid")
        txt_port = _port_field(txt)
        if port is not None and port != txt_port:
            raise InvalidAnnouncementError(f"TXT port {txt_port} differs from service port {port}")
        protocol = _text_field(txt, "proto")
        if not protocol:
            raise InvalidAnnouncementError("TXT 'proto' is missing")
        return cls(community_id, node_id, host, txt_port, protocol)


def _normalise(properties: TxtProperties) -> dict[str, str | bytes | None]:
    txt: dict[str, str | bytes | None] = {}
    for raw_key, value in properties.items():
        key = raw_key.decode("ascii", "replace") if isinstance(raw_key, bytes) else raw_key
        # RFC 6763 6.4: keys are case-insensitive and only the first of a repeated key counts.
        txt.setdefault(key.lower(), value)
    return txt


def _text_field(txt: Mapping[str, str | bytes | None], key: str) -> str | None:
    value = txt.get(key)
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise InvalidAnnouncementError(f"TXT {key!r} is not UTF-8") from None
    return value


def _key_field(txt: Mapping[str, str | bytes | None], key: str) -> bytes:
    value = _text_field(txt, key)
    if value is None:
        raise InvalidAnnouncementError(f"TXT {key!r} is missing")
    # bytes.fromhex alone would accept embedded spaces.
    if not _HEX_KEY.fullmatch(value):
        raise InvalidAnnouncementError(
            f"TXT {key!r} must be {2 * KEY_BYTES} hex digits, got {value[:80]!r}"
        )
    return bytes.fromhex(value)


def _port_field(txt: Mapping[str, str | bytes | None]) -> int:
    value = _text_field(txt, "port")
    if value is None:
        raise InvalidAnnouncementError("TXT 'port' is missing")
    # int() alone would accept "+80", " 80" and "8_0".
    if not _PORT.fullmatch(value) or not 0 < int(value) < 65536:
        raise InvalidAnnouncementError(f"TXT 'port' {value[:16]!r} is not a port number")
    return int(value)


def _announcement_of(info: AsyncServiceInfo) -> NodeAnnouncement:
    addresses = info.parsed_addresses(IPVersion.V4Only)
    if not addresses:
        raise InvalidAnnouncementError("no IPv4 address")
    return NodeAnnouncement.from_txt(info.properties, addresses[0], info.port)


def open_zeroconf(
    interfaces: Sequence[str | int] | InterfaceChoice = InterfaceChoice.All,
) -> AsyncZeroconf:
    """A zeroconf responder for the headless node; call it inside the running loop.

    IPv4 only, as announcements are. The caller closes it with `await aiozc.async_close()`.
    Inside Home Assistant use the shared instance instead: a second responder on
    port 5353 would fight HA's over the same host names.
    """
    return AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)


class ZeroconfAnnouncer:
    """Registers a node's announcement on an injected zeroconf instance."""

    def __init__(self, aiozc: AsyncZeroconf, announcement: NodeAnnouncement) -> None:
        self._aiozc = aiozc
        self.announcement = announcement
        self._info: AsyncServiceInfo | None = None
        self._broadcast: Awaitable[Any] | None = None

    @property
    def service_name(self) -> str | None:
        """The registered full service name (zeroconf may have renamed it), or None."""
        return None if self._info is None else self._info.name

    async def start(self) -> None:
        """Probe for a unique name and register (about half a second of probing)."""
        if self._info is not None:
            return
        info = self.announcement.to_service_info()
        broadcast = await self._aiozc.async_register_service(info, allow_name_change=True)
        self._info = info
        self._broadcast = broadcast

    async def stop(self) -> None:
        """Unregister and wait for the goodbye packets; a no-op if not registered."""
        info, self._info = self._info, None
        broadcast, self._broadcast = self._broadcast, None
        # The announcement repeats for a while after registering; left running after
        # the goodbye, it would bring the service back to life in every cache.
        if isinstance(broadcast, asyncio.Future) and not broadcast.done():
            broadcast.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await broadcast
        # A closed responder already said goodbye for all its services.
        if info is None or self._aiozc.zeroconf.done:
            return
        goodbye = await self._aiozc.async_unregister_service(info)
        await goodbye


class ZeroconfBrowser:
    """Watches the LAN for announcements of one community and reports peers.

    `on_peer` gets each new or changed announcement of another node of the community;
    `on_gone` gets the URL of a reported peer whose announcement went away (goodbye,
    expiry, or a change of address). Callbacks run in the event loop.
    """

    def __init__(
        self,
        aiozc: AsyncZeroconf,
        community_id: bytes,
        own_node_id: bytes,
        on_peer: Callable[[NodeAnnouncement], None],
        on_gone: Callable[[str], None] | None = None,
        *,
        resolve_timeout_s: float = 3.0,
    ) -> None:
        self._aiozc = aiozc
        self._community_id = community_id
        self._own_node_id = own_node_id
        self._on_peer = on_peer
        self._on_gone = on_gone
        self._timeout_ms = resolve_timeout_s * 1000
        self._browser: AsyncServiceBrowser | None = None
        self._running = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._known: dict[str, NodeAnnouncement] = {}
        self._counts: Counter[str] = Counter()

    def counters(self) -> dict[str, int]:
        """peers (reported), gone, ignored_community, ignored_own, invalid, unresolved."""
        keys = ("peers", "gone", "ignored_community", "ignored_own", "invalid", "unresolved")
        return {key: self._counts[key] for key in keys}

    def announcements(self) -> list[NodeAnnouncement]:
        """The peers currently announced on the LAN."""
        return list(self._known.values())

    async def start(self) -> None:
        """Start browsing; the first query goes out at once."""
        if self._running:
            return
        # Set first: the browser reports services already in the cache while it is
        # being constructed.
        self._running = True
        self._browser = AsyncServiceBrowser(
            self._aiozc.zeroconf, [SERVICE_TYPE], handlers=[self._on_state_change]
        )

    async def stop(self) -> None:
        """Stop browsing and cancel pending resolutions; idempotent."""
        self._running = False
        browser, self._browser = self._browser, None
        if browser is not None:
            await browser.async_cancel()
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if not self._running:
            return
        pending = self._tasks.pop(name, None)
        if pending is not None:
            # Only the latest state of a service matters.
            pending.cancel()
        if state_change is ServiceStateChange.Removed:
            self._forget(name)
            return
        task = asyncio.get_running_loop().create_task(self._resolve(name))
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._task_done(name, done))

    def _task_done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]

    async def _resolve(self, name: str) -> None:
        try:
            await self._resolve_and_report(name)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failing callback must not silence discovery of the next peers.
            _LOGGER.exception("handling announcement %s failed", name)

    async def _resolve_and_report(self, name: str) -> None:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(self._aiozc.zeroconf, self._timeout_ms):
            self._counts["unresolved"] += 1
            _LOGGER.debug("announcement %s did not resolve", name)
            return
        try:
            announcement = _announcement_of(info)
        except InvalidAnnouncementError as err:
            self._counts["invalid"] += 1
            _LOGGER.debug("ignoring invalid announcement %s: %s", name, err)
            self._forget(name)
            return
        if announcement.community_id != self._community_id:
            self._counts["ignored_community"] += 1
            self._forget(name)
            return
        if announcement.node_id == self._own_node_id:
            self._counts["ignored_own"] += 1
            self._forget(name)
            return
        previous = self._known.get(name)
        if previous == announcement:
            return
        if previous is not None and previous.url != announcement.url:
            self._forget(name)
        self._known[name] = announcement
        self._counts["peers"] += 1
        self._on_peer(announcement)

    def _forget(self, name: str) -> None:
        gone = self._known.pop(name, None)
        if gone is None:
            return
        self._counts["gone"] += 1
        # Another instance name (a renamed duplicate) may still announce the same URL.
        still_there = any(known.url == gone.url for known in self._known.values())
        if self._on_gone is not None and not still_there:
            self._on_gone(gone.url)
