"""Joining a community with an invite, at a real member node running on 127.0.0.1, and
the neighbours zeroconf finds on the LAN."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import pytest
import voluptuous as vol
from flow_support import (
    Member,
    assert_flow_title,
    closed_port,
    configure,
    flow_env_fixture,  # noqa: F401 - the flow_env fixture
    form_values,
    nodes_dir,
    now_ms,
    placeholders,
    schema_keys,
    start,
    start_member,
    to_community_menu,
)
from homeassistant.config_entries import SOURCE_ZEROCONF, ConfigEntry, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_COMMUNITY_ID,
    CONF_IMPORT_POWER,
    CONF_INVITE,
    CONF_MAX_BUY_PRICE,
    CONF_MIN_SELL_PRICE,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    DOMAIN,
)
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.node.datadir import DataDir
from market.node.invite import Invite, create_invite
from market.node.redeem_client import redeem_invite
from market.terms import CommunityTerms

pytestmark = pytest.mark.usefixtures("flow_env", "socket_enabled")


@pytest.fixture
async def member(tmp_path: Path) -> AsyncIterator[Member]:
    """The founder of "Rue des Lilas", whose node is up on 127.0.0.1."""
    member = await start_member(tmp_path / "member")
    yield member
    await member.node.stop()


def _pasted(code: str) -> str:
    """A code as a chat app delivers it: wrapped, with surrounding blanks."""
    return "\n  " + "\n".join(code[i : i + 40] for i in range(0, len(code), 40)) + "\n"


async def _to_join(hass: HomeAssistant) -> ConfigFlowResult:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "join"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "join"
    return result


async def _finish_with_entities(hass: HomeAssistant, result: ConfigFlowResult) -> ConfigEntry:
    assert result["type"] is FlowResultType.MENU, result.get("errors")
    assert result["step_id"] == "meter"
    result = await configure(hass, result, {"next_step_id": "entities"})
    result = await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry: ConfigEntry = result["result"]
    return entry


def _node_path(hass: HomeAssistant, entry: ConfigEntry) -> Path:
    return nodes_dir(hass) / str(entry.data[CONF_NODE_DIR])


# ---------------------------------------------------------------------- join


async def test_joining_with_an_invite_admits_this_node(hass: HomeAssistant, member: Member) -> None:
    code = member.node.create_invite()
    result = await _to_join(hass)
    assert form_values(result, {CONF_INVITE: "x"})[CONF_PORT] == 8765
    result = await configure(hass, result, {CONF_INVITE: _pasted(code), CONF_PORT: 0})
    entry = await _finish_with_entities(hass, result)

    community = member.community
    address = f"127.0.0.1:{member.node.port}"
    assert entry.title == "Rue des Lilas \N{EN DASH} Maison"
    assert entry.unique_id == community.community_id.hex()
    assert entry.data[CONF_COMMUNITY_ID] == community.community_id.hex()
    assert entry.data[CONF_PEERS] == [address]
    assert entry.data[CONF_PORT] == 0
    # This node's own key, kept in its data dir, is now a member of the community.
    path = _node_path(hass, entry)
    key = DataDir(path).identity().public_key
    assert entry.data[CONF_NODE_ID] == key.hex()
    assert key in await member.admitted()
    assert Community.load(path / "community.json") == community
    assert json.loads((path / "peers.json").read_text()) == [f"http://{address}"]
    assert (entry.options[CONF_MIN_SELL_PRICE], entry.options[CONF_MAX_BUY_PRICE]) == (400, 1952)


def _flip(code: str) -> str:
    """The code with one character mistyped."""
    position = len(code) // 2
    return code[:position] + ("B" if code[position] == "A" else "A") + code[position + 1 :]


def _other_community() -> tuple[Identity, Community]:
    founder = Identity.generate()
    return founder, Community.create("Rue des Roses", now_ms(), [founder.public_key])


async def _malformed(_hass: HomeAssistant, _member: Member) -> str:
    return "hello, here is my invite"


async def _mistyped(_hass: HomeAssistant, member: Member) -> str:
    return _flip(member.node.create_invite())


async def _expired(_hass: HomeAssistant, member: Member) -> str:
    yesterday = int(time.time()) - 86_400
    invite = create_invite(
        member.node.identity,
        member.community,
        f"127.0.0.1:{member.node.port}",
        now_s=yesterday,
        ttl_s=3600,
    )
    return invite.encode()


async def _used(hass: HomeAssistant, member: Member) -> str:
    code = member.node.create_invite()
    # Another household redeemed it first.
    session = async_get_clientsession(hass)
    await redeem_invite(session, Invite.decode(code), Identity.generate(), now_ms=now_ms())
    return code


async def _forged(_hass: HomeAssistant, member: Member) -> str:
    stranger = Identity.generate()  # signs correctly, but is no member
    invite = create_invite(
        stranger,
        member.community,
        f"127.0.0.1:{member.node.port}",
        now_s=int(time.time()),
    )
    return invite.encode()


async def _wrong_community(_hass: HomeAssistant, member: Member) -> str:
    founder, other = _other_community()
    # Redeemed at a node that serves another community.
    invite = create_invite(founder, other, f"127.0.0.1:{member.node.port}", now_s=int(time.time()))
    return invite.encode()


async def _unreachable(_hass: HomeAssistant, member: Member) -> str:
    invite = create_invite(
        member.node.identity,
        member.community,
        f"127.0.0.1:{closed_port()}",
        now_s=int(time.time()),
    )
    return invite.encode()


@pytest.mark.parametrize(
    ("make_code", "reason"),
    [
        (_malformed, "malformed"),
        (_mistyped, "mistyped"),
        (_expired, "expired"),
        (_used, "used"),
        (_forged, "forged"),
        (_wrong_community, "wrong_community"),
        (_unreachable, "unreachable"),
    ],
)
async def test_a_refused_invite_says_why_and_admits_nobody(
    hass: HomeAssistant,
    member: Member,
    make_code: Callable[[HomeAssistant, Member], Any],
    reason: str,
) -> None:
    code = await make_code(hass, member)
    admitted_before = await member.admitted()
    result = await _to_join(hass)
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 0})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "join"
    assert result["errors"] == {"base": reason}
    assert await member.admitted() == admitted_before
    assert hass.config_entries.async_entries(DOMAIN) == []

    # A good invite then goes through in the same flow.
    result = await configure(hass, result, {CONF_INVITE: member.node.create_invite(), CONF_PORT: 0})
    entry = await _finish_with_entities(hass, result)
    assert bytes.fromhex(entry.data[CONF_NODE_ID]) in await member.admitted()
    assert [path.name for path in nodes_dir(hass).iterdir()] == [entry.data[CONF_NODE_DIR]]


async def test_a_community_already_joined_aborts_without_using_the_invite(
    hass: HomeAssistant, member: Member
) -> None:
    community_id = member.community.community_id.hex()
    MockConfigEntry(domain=DOMAIN, unique_id=community_id, data={}).add_to_hass(hass)
    admitted_before = await member.admitted()
    result = await _to_join(hass)
    result = await configure(hass, result, {CONF_INVITE: member.node.create_invite(), CONF_PORT: 0})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert await member.admitted() == admitted_before  # the invite is still good


async def test_a_port_another_node_uses_is_refused_before_redeeming(
    hass: HomeAssistant, member: Member
) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="other", data={CONF_PORT: 8765}).add_to_hass(hass)
    result = await _to_join(hass)
    code = member.node.create_invite()
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 8765})
    assert result["errors"] == {CONF_PORT: "port_in_use"}
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 0})
    await _finish_with_entities(hass, result)


# ---------------------------------------------------------------------- zeroconf


def _discovery(
    host: str,
    port: int,
    community_id: bytes,
    node_id: bytes,
    txt: dict[str, str | None] | None = None,
) -> ZeroconfServiceInfo:
    properties: dict[str, Any] = {
        "cid": community_id.hex(),
        "nid": node_id.hex(),
        "port": str(port),
        "proto": "1",
        "name": "Voisin",  # as nodes before issue #15 announced it: never shown
    }
    for key, value in (txt or {}).items():
        if value is None:
            properties.pop(key)
        else:
            properties[key] = value
    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        port=port,
        hostname=f"p2p-energy-{node_id.hex()[:16]}.local.",
        type="_p2p-energy._tcp.local.",
        name=f"Voisin-{node_id.hex()[:8]}._p2p-energy._tcp.local.",
        properties=properties,
    )


def _member_discovery(member: Member) -> ZeroconfServiceInfo:
    host, port = member.host_port
    return _discovery(host, port, member.community.community_id, member.node.identity.public_key)


async def test_a_discovered_neighbour_is_offered_never_joined_silently(
    hass: HomeAssistant, member: Member
) -> None:
    admitted_before = await member.admitted()
    result = await start(hass, SOURCE_ZEROCONF, _member_discovery(member))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    host = f"127.0.0.1:{member.node.port}"
    # By its address: an announcement is unauthenticated, and names nobody.
    assert placeholders(result) == {"host": host}
    assert assert_flow_title(hass, result["flow_id"]) == {"name": host}
    assert await member.admitted() == admitted_before
    # Nothing secret is pre-filled: the invite comes from the neighbour.
    (invite_key,) = [key for key in schema_keys(result) if key == CONF_INVITE]
    assert invite_key.default is vol.UNDEFINED
    assert (invite_key.description or {}).get("suggested_value") is None

    result = await configure(
        hass,
        result,
        {
            CONF_NODE_NAME: "Maison",
            CONF_INVITE: _pasted(member.node.create_invite()),
            CONF_PORT: 0,
        },
    )
    entry = await _finish_with_entities(hass, result)
    assert entry.unique_id == member.community.community_id.hex()
    assert entry.data[CONF_NODE_NAME] == "Maison"
    assert bytes.fromhex(entry.data[CONF_NODE_ID]) in await member.admitted()
    assert entry.data[CONF_PEERS] == [host]


async def test_the_discovered_offer_refuses_a_port_another_node_uses(
    hass: HomeAssistant, member: Member
) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="other", data={CONF_PORT: 8765}).add_to_hass(hass)
    admitted_before = await member.admitted()
    result = await start(hass, SOURCE_ZEROCONF, _member_discovery(member))
    code = member.node.create_invite()
    taken = {CONF_NODE_NAME: "Maison", CONF_INVITE: code, CONF_PORT: 8765}
    result = await configure(hass, result, taken)
    assert result["errors"] == {CONF_PORT: "port_in_use"}
    assert await member.admitted() == admitted_before  # refused before redeeming
    result = await configure(hass, result, taken | {CONF_PORT: 0})
    await _finish_with_entities(hass, result)


async def test_the_discovered_address_is_tried_before_the_invites(
    hass: HomeAssistant, member: Member
) -> None:
    """The inviter's address in the code may be stale (its laptop, another port); the
    neighbour just seen on the LAN is reachable and, being a member, can admit."""
    stale = f"127.0.0.1:{closed_port()}"
    invite = create_invite(member.node.identity, member.community, stale, now_s=int(time.time()))
    result = await start(hass, SOURCE_ZEROCONF, _member_discovery(member))
    result = await configure(
        hass, result, {CONF_NODE_NAME: "Maison", CONF_INVITE: invite.encode(), CONF_PORT: 0}
    )
    entry = await _finish_with_entities(hass, result)
    assert bytes.fromhex(entry.data[CONF_NODE_ID]) in await member.admitted()
    assert entry.data[CONF_PEERS] == [f"127.0.0.1:{member.node.port}", stale]


async def test_an_invite_for_another_community_than_the_discovered_one(
    hass: HomeAssistant, member: Member
) -> None:
    founder, other = _other_community()
    invite = create_invite(founder, other, "192.0.2.1:8765", now_s=int(time.time()))
    result = await start(hass, SOURCE_ZEROCONF, _member_discovery(member))
    result = await configure(
        hass, result, {CONF_NODE_NAME: "Maison", CONF_INVITE: invite.encode(), CONF_PORT: 0}
    )
    assert result["step_id"] == "zeroconf_confirm"
    assert result["errors"] == {"base": "wrong_community"}
    result = await configure(hass, result, {CONF_NODE_NAME: " ", CONF_INVITE: "x", CONF_PORT: 0})
    assert result["errors"] == {CONF_NODE_NAME: "name_required"}


KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


async def test_our_own_node_is_not_offered(hass: HomeAssistant) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id=KEY_A.hex(), data={CONF_NODE_ID: KEY_B.hex()}
    ).add_to_hass(hass)
    result = await start(hass, SOURCE_ZEROCONF, _discovery("192.168.1.9", 8765, KEY_A, KEY_B))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "own_node"


async def test_a_community_already_joined_is_not_offered(hass: HomeAssistant) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id=KEY_A.hex(), data={CONF_NODE_ID: bytes(32).hex()}
    ).add_to_hass(hass)
    result = await start(hass, SOURCE_ZEROCONF, _discovery("192.168.1.9", 8765, KEY_A, KEY_B))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_one_offer_per_community(hass: HomeAssistant) -> None:
    first = await start(hass, SOURCE_ZEROCONF, _discovery("192.168.1.9", 8765, KEY_A, KEY_B))
    assert first["step_id"] == "zeroconf_confirm"
    other_member = _discovery("192.168.1.10", 8765, KEY_A, bytes(range(2, 34)))
    second = await start(hass, SOURCE_ZEROCONF, other_member)
    assert second["type"] is FlowResultType.ABORT
    assert second["reason"] == "already_in_progress"


async def test_joining_by_hand_withdraws_the_offer(hass: HomeAssistant, member: Member) -> None:
    offer = await start(hass, SOURCE_ZEROCONF, _member_discovery(member))
    result = await _to_join(hass)
    result = await configure(hass, result, {CONF_INVITE: member.node.create_invite(), CONF_PORT: 0})
    await _finish_with_entities(hass, result)
    await hass.async_block_till_done()
    assert offer["flow_id"] not in {f["flow_id"] for f in hass.config_entries.flow.async_progress()}


@pytest.mark.parametrize(
    ("host", "txt"),
    [
        ("192.168.1.9", {"cid": None}),
        ("192.168.1.9", {"nid": "not hex"}),
        ("192.168.1.9", {"port": "9999"}),  # differs from the service's port
        ("192.168.1.9", {"proto": "7"}),
        ("fe80::1", {}),  # no IPv4 address
    ],
)
async def test_an_invalid_announcement_is_ignored(
    hass: HomeAssistant, host: str, txt: dict[str, str | None]
) -> None:
    result = await start(hass, SOURCE_ZEROCONF, _discovery(host, 8765, KEY_A, KEY_B, txt))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery"


async def test_the_options_start_at_the_joined_communitys_bounds(
    hass: HomeAssistant, tmp_path: Path, flow_env: AsyncMock
) -> None:
    terms = CommunityTerms(slot_s=3600, floor=300, ceiling=2500)
    founder = await start_member(tmp_path / "founder", "Hameau", terms)
    try:
        result = await _to_join(hass)
        result = await configure(
            hass, result, {CONF_INVITE: founder.node.create_invite(), CONF_PORT: 0}
        )
        entry = await _finish_with_entities(hass, result)
    finally:
        await founder.node.stop()
    assert entry.title == "Hameau \N{EN DASH} Maison"
    assert (entry.options[CONF_MIN_SELL_PRICE], entry.options[CONF_MAX_BUY_PRICE]) == (300, 2500)
    await hass.async_block_till_done()
    assert flow_env.call_count == 1  # the new entry is set up
