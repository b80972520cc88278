"""LAN discovery through real zeroconf responders talking multicast on loopback.

Each test uses fresh random community ids, so announcements of tests running at the
same time (other workers, other checkouts on this host) are ignored as another
community rather than disturbing the assertions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from zeroconf import NotRunningException, ServiceStateChange
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from market.gossip.discovery import (
    PROTOCOL_VERSION,
    SERVICE_TYPE,
    InvalidAnnouncementError,
    NodeAnnouncement,
    ZeroconfAnnouncer,
    ZeroconfBrowser,
    open_zeroconf,
)
from market.gossip.peers import PeerTable

LOOPBACK = ["127.0.0.1"]


def _key() -> bytes:
    return os.urandom(32)


def _announcement(**changes: Any) -> NodeAnnouncement:
    base = NodeAnnouncement(community_id=_key(), node_id=_key(), host="127.0.0.1", port=8765)
    return replace(base, **changes)


async def _until(predicate: Callable[[], bool], limit_s: float = 5.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {limit_s} s")
        await asyncio.sleep(0.02)


@dataclass
class Seen:
    peers: list[NodeAnnouncement] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


@pytest.fixture
async def zc_pair() -> AsyncIterator[tuple[AsyncZeroconf, AsyncZeroconf]]:
    """Two responders, as on two hosts: one announces, the other browses."""
    first = open_zeroconf(LOOPBACK)
    second = open_zeroconf(LOOPBACK)
    yield first, second
    await asyncio.gather(first.async_close(), second.async_close())


@pytest.fixture
async def cleanup() -> AsyncIterator[list[ZeroconfAnnouncer | ZeroconfBrowser]]:
    started: list[ZeroconfAnnouncer | ZeroconfBrowser] = []
    yield started
    for item in reversed(started):
        await item.stop()


async def _browse(
    aiozc: AsyncZeroconf,
    community_id: bytes,
    own_node_id: bytes,
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> tuple[ZeroconfBrowser, Seen]:
    seen = Seen()
    browser = ZeroconfBrowser(aiozc, community_id, own_node_id, seen.peers.append, seen.gone.append)
    cleanup.append(browser)
    await browser.start()
    return browser, seen


async def _announce(
    aiozc: AsyncZeroconf,
    announcement: NodeAnnouncement,
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> ZeroconfAnnouncer:
    announcer = ZeroconfAnnouncer(aiozc, announcement)
    cleanup.append(announcer)
    await announcer.start()
    return announcer


# -- through real zeroconf --------------------------------------------------------------


async def test_browser_of_the_community_sees_the_announcer(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> None:
    announcing, browsing = zc_pair
    node = _announcement()
    announcer = await _announce(announcing, node, cleanup)
    assert announcer.service_name == f"p2p-energy-{node.node_id.hex()[:8]}.{SERVICE_TYPE}"
    browser, seen = await _browse(browsing, node.community_id, _key(), cleanup)

    await _until(lambda: bool(seen.peers))

    assert seen.peers == [node]
    found = seen.peers[0]
    assert (found.host, found.port, found.node_id, found.community_id) == (
        "127.0.0.1",
        8765,
        node.node_id,
        node.community_id,
    )
    assert found.protocol == PROTOCOL_VERSION
    assert browser.announcements() == [node]
    assert browser.counters()["peers"] == 1
    # What the gossip layer does with it.
    peers = PeerTable()
    peers.add(found.url, key=found.node_id)
    assert peers.all()[0].url == "http://127.0.0.1:8765"
    assert peers.all()[0].key == node.node_id


async def test_other_community_and_own_node_are_ignored(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> None:
    announcing, browsing = zc_pair
    community, own_key = _key(), _key()
    stranger = _announcement()  # its own random community
    myself = _announcement(community_id=community, node_id=own_key, port=8766)
    neighbour = _announcement(community_id=community, port=8767)
    for node in (stranger, myself, neighbour):
        await _announce(announcing, node, cleanup)
    # Browsing starts after the announcements are cached: those are reported while the
    # zeroconf browser is being built, and must not be lost.
    browser, seen = await _browse(browsing, community, own_key, cleanup)

    def all_handled() -> bool:
        counts = browser.counters()
        return counts["ignored_own"] >= 1 and counts["ignored_community"] >= 1 and bool(seen.peers)

    await _until(all_handled)
    await asyncio.sleep(0.2)  # a late, wrong on_peer call would show up here
    assert seen.peers == [neighbour]
    assert browser.counters()["ignored_own"] == 1


async def test_invalid_txt_is_counted_and_skipped(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
    caplog: pytest.LogCaptureFixture,
) -> None:
    announcing, browsing = zc_pair
    caplog.set_level(logging.DEBUG, logger="market.gossip.discovery")
    node = _announcement()
    info = node.to_service_info()
    bad = AsyncServiceInfo(
        SERVICE_TYPE,
        info.name,
        port=node.port,
        properties={**info.properties, b"nid": b"abcd"},
        server=info.server,
        parsed_addresses=["127.0.0.1"],
    )
    await announcing.async_register_service(bad)
    browser, seen = await _browse(browsing, node.community_id, _key(), cleanup)

    def logged() -> bool:
        return any(
            info.name in record.getMessage() and "'nid'" in record.getMessage()
            for record in caplog.records
        )

    await _until(logged)
    assert browser.counters()["invalid"] >= 1
    assert seen.peers == []


async def test_stop_unregisters_and_the_browser_sees_the_peer_go(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> None:
    announcing, browsing = zc_pair
    node = _announcement()
    announcer = await _announce(announcing, node, cleanup)
    browser, seen = await _browse(browsing, node.community_id, _key(), cleanup)
    await _until(lambda: bool(seen.peers))

    await announcer.stop()
    assert announcer.service_name is None
    await _until(lambda: bool(seen.gone))

    assert seen.gone == ["http://127.0.0.1:8765"]
    assert browser.announcements() == []
    assert browser.counters()["gone"] == 1
    await announcer.stop()  # idempotent


async def test_changed_address_replaces_the_peer(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> None:
    announcing, browsing = zc_pair
    node = _announcement()
    announcer = await _announce(announcing, node, cleanup)
    _browser, seen = await _browse(browsing, node.community_id, _key(), cleanup)
    await _until(lambda: bool(seen.peers))

    moved = replace(node, port=9000)
    info = moved.to_service_info()
    info.name = announcer.service_name or ""
    await announcing.async_update_service(info)
    await _until(lambda: len(seen.peers) == 2)

    assert seen.peers == [node, moved]
    assert seen.gone == [node.url]


async def test_a_name_conflict_is_resolved_by_renaming(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> None:
    """The same instance name twice (as when a node's old announcement lingers)."""
    first, second = zc_pair
    node = _announcement()
    one = await _announce(first, node, cleanup)
    await asyncio.sleep(0.3)  # let the second responder cache the first announcement
    two = await _announce(second, node, cleanup)

    assert one.service_name == f"{node.instance_name()}.{SERVICE_TYPE}"
    assert two.service_name == f"{node.instance_name()}-2.{SERVICE_TYPE}"


async def test_announcer_stop_is_safe_when_start_failed() -> None:
    aiozc = open_zeroconf(LOOPBACK)
    await aiozc.async_close()
    announcer = ZeroconfAnnouncer(aiozc, _announcement())
    with pytest.raises(NotRunningException):
        await announcer.start()
    assert announcer.service_name is None
    await announcer.stop()
    await announcer.stop()


async def test_browser_stop_is_idempotent_and_cancels_resolutions() -> None:
    aiozc = open_zeroconf(LOOPBACK)
    try:
        browser = ZeroconfBrowser(aiozc, _key(), _key(), lambda _: None)
        await browser.stop()  # before start
        await browser.start()
        await browser.start()
        # An announcement that never resolves keeps its task pending until stop.
        browser._on_state_change(
            aiozc.zeroconf,
            SERVICE_TYPE,
            f"nobody.{SERVICE_TYPE}",
            ServiceStateChange.Added,
        )
        pending = list(browser._tasks.values())
        assert pending
        await browser.stop()
        await browser.stop()
        assert all(task.cancelled() for task in pending)
    finally:
        await aiozc.async_close()


# -- the announcement itself ------------------------------------------------------------


def test_service_info_carries_the_txt_records() -> None:
    node = _announcement()
    info = node.to_service_info()
    assert info.type == SERVICE_TYPE
    assert info.port == 8765
    assert info.parsed_addresses() == ["127.0.0.1"]
    assert info.properties == {
        b"cid": node.community_id.hex().encode(),
        b"nid": node.node_id.hex().encode(),
        b"port": b"8765",
        b"proto": b"1",
    }
    parsed = NodeAnnouncement.from_txt(info.properties, "127.0.0.1", info.port)
    assert parsed == node


async def test_what_the_lan_hears_names_no_household(
    zc_pair: tuple[AsyncZeroconf, AsyncZeroconf],
    cleanup: list[ZeroconfAnnouncer | ZeroconfBrowser],
) -> None:
    """Anyone on the LAN can resolve the announcement: it carries what discovery needs
    (community, key, port, protocol) and no name, in its TXT record or its label."""
    announcing, listening = zc_pair
    node = _announcement()
    announcer = await _announce(announcing, node, cleanup)
    name = announcer.service_name
    assert name == f"p2p-energy-{node.node_id.hex()[:8]}.{SERVICE_TYPE}"
    heard = AsyncServiceInfo(SERVICE_TYPE, name)
    assert await heard.async_request(listening.zeroconf, 3000)
    assert set(heard.properties) == {b"cid", b"nid", b"port", b"proto"}


def test_an_older_nodes_name_is_ignored() -> None:
    """Nodes before issue #15 announced a `name`: it is neither refused nor kept."""
    node = _announcement()
    old = {**node.to_service_info().properties, b"name": b"Maison Dupont\n"}
    assert NodeAnnouncement.from_txt(old, "127.0.0.1", 8765) == node


def test_from_txt_accepts_home_assistant_str_properties() -> None:
    """HA's ZeroconfServiceInfo decodes TXT records to str; keys are case-insensitive."""
    node = _announcement()
    properties: dict[str, str | None] = {
        "CID": node.community_id.hex().upper(),
        "nid": node.node_id.hex(),
        "port": "8765",
        "proto": "1",
        "future": None,  # unknown keys are for later protocol versions
    }
    parsed = NodeAnnouncement.from_txt(properties, "127.0.0.1")
    assert parsed == node


def _txt(**changes: bytes | None) -> dict[bytes, bytes | None]:
    properties = dict(_announcement().to_service_info().properties)
    for key, value in changes.items():
        if value is None and key.endswith("_absent"):
            del properties[key.removesuffix("_absent").encode()]
        else:
            properties[key.encode()] = value
    return properties


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        (_txt(cid_absent=None), "'cid' is missing"),
        (_txt(cid=None), "'cid' is missing"),
        (_txt(cid=b"ab" * 31), "'cid' must be 64 hex digits"),
        (_txt(cid=b"ab" * 33), "'cid' must be 64 hex digits"),
        (_txt(cid=b"zz" * 32), "'cid' must be 64 hex digits"),
        (_txt(cid=b"ab " * 21 + b"a"), "'cid' must be 64 hex digits"),
        (_txt(nid_absent=None), "'nid' is missing"),
        (_txt(nid=b"12"), "'nid' must be 64 hex digits"),
        (_txt(nid=b"\xff" * 64), "'nid' is not UTF-8"),
        (_txt(port_absent=None), "'port' is missing"),
        (_txt(port=b"http"), "is not a port number"),
        (_txt(port=b"+8765"), "is not a port number"),
        (_txt(port=b"0"), "is not a port number"),
        (_txt(port=b"70000"), "is not a port number"),
        (_txt(port=b"8766"), "differs from service port 8765"),
        (_txt(proto_absent=None), "'proto' is missing"),
        (_txt(proto=b""), "'proto' is missing"),
        (_txt(proto=b"2"), "unsupported protocol '2'"),
    ],
)
def test_from_txt_rejects_bad_fields(properties: dict[bytes, bytes | None], reason: str) -> None:
    with pytest.raises(InvalidAnnouncementError, match=reason.replace("+", r"\+")):
        NodeAnnouncement.from_txt(properties, "127.0.0.1", 8765)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("fe80::1", "not an IPv4 address"),
        ("homeassistant.local", "not an IPv4 address"),
        ("192.168.001.2", "not an IPv4 address"),
        ("0.0.0.0", "cannot be a peer address"),
        ("224.0.0.251", "cannot be a peer address"),
        ("255.255.255.255", "cannot be a peer address"),
    ],
)
def test_from_txt_rejects_bad_hosts(host: str, reason: str) -> None:
    with pytest.raises(InvalidAnnouncementError, match=reason):
        NodeAnnouncement.from_txt(_txt(), host, 8765)


def test_invalid_announcement_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="community_id must be 32 bytes"):
        _announcement(community_id=b"short")
    with pytest.raises(ValueError, match="port"):
        _announcement(port=0)
