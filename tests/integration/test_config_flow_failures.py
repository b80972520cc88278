"""The config flow when the disk, the node's files or the user's input let it down:
each failure is said in the form, and the flow goes on once it is fixed."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from unittest.mock import patch

import pytest
from flow_support import (
    Member,
    configure,
    configure_options,
    flow_env_fixture,  # noqa: F401 - the flow_env fixture
    form_values,
    nodes_dir,
    placeholders,
    start,
    start_member,
    start_options,
    to_community_menu,
)
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USB
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_COMMUNITY_NAME,
    CONF_IMPORT_POWER,
    CONF_INVITE,
    CONF_MIN_SELL_PRICE,
    CONF_NODE_DIR,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_SERIAL_PORT,
    DOMAIN,
)
from custom_components.p2p_energy.flow_helpers import INVITE_ERROR_KEYS, invite_error_key
from market.node.datadir import COMMUNITY_FILE
from market.node.errors import INVITE_ERRORS, InviteError
from market.node.invite import Invite

FLOW = "custom_components.p2p_energy.config_flow"
SERIAL = "custom_components.p2p_energy.serial_ports"
NODE_DIR = uuid.UUID(int=7)

pytestmark = pytest.mark.usefixtures("flow_env")


@pytest.fixture
def known_node_dir() -> Iterator[Path]:
    """The flow names its node's directory with uuid4: here it is known in advance, so
    that a test can spoil it first."""
    with patch(f"{FLOW}.uuid.uuid4", return_value=NODE_DIR):
        yield Path(NODE_DIR.hex)


def _blocked_storage(hass: HomeAssistant) -> Path:
    """A regular file where the nodes' folder should be: nothing can be written there
    (even as root), as on a full or read-only configuration folder."""
    blocked = nodes_dir(hass)
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a folder")
    return blocked


@pytest.fixture
async def member(tmp_path: Path, socket_enabled: None) -> AsyncIterator[Member]:
    member = await start_member(tmp_path / "member")
    yield member
    await member.node.stop()


# ---------------------------------------------------------------------- storage


async def test_a_community_that_cannot_be_written_is_reported(hass: HomeAssistant) -> None:
    blocked = _blocked_storage(hass)
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    community = {CONF_COMMUNITY_NAME: "Rue des Lilas", CONF_PORT: 0}
    result = await configure(hass, result, community)
    assert result["errors"] == {"base": "storage_failed"}

    blocked.unlink()  # room made
    result = await configure(hass, result, community)
    assert result["step_id"] == "meter"


async def test_a_key_that_cannot_be_written_is_reported_before_redeeming(
    hass: HomeAssistant, member: Member
) -> None:
    admitted = await member.admitted()
    _blocked_storage(hass)
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "join"})
    code = member.node.create_invite()
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 0})
    assert result["errors"] == {"base": "storage_failed"}
    assert await member.admitted() == admitted  # the invite is still good


async def test_a_membership_that_cannot_be_recorded_is_reported_then_retried(
    hass: HomeAssistant, member: Member, known_node_dir: Path
) -> None:
    """The neighbour admitted this node, but its community could not be saved: the
    same node (same key) redeems the same invite again once the disk is fixed."""
    spoiled = nodes_dir(hass) / known_node_dir / COMMUNITY_FILE
    spoiled.mkdir(parents=True)  # a folder where the community file goes
    before = await member.admitted()
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "join"})
    code = member.node.create_invite()
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 0})
    assert result["errors"] == {"base": "storage_failed"}
    admitted = await member.admitted()
    assert len(admitted) == len(before) + 1  # the neighbour did admit this node

    spoiled.rmdir()
    result = await configure(hass, result, {CONF_INVITE: code, CONF_PORT: 0})
    assert result["step_id"] == "meter"
    result = await configure(hass, result, {"next_step_id": "entities"})
    result = await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_NODE_DIR] == known_node_dir.name
    assert await member.admitted() == admitted  # one node, admitted once


# ---------------------------------------------------------------------- damaged node files


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda path: path.write_text("{not json"), id="corrupt"),
        pytest.param(lambda path: path.mkdir(), id="a folder"),
    ],
)
async def test_options_of_a_node_whose_community_cannot_be_read(
    hass: HomeAssistant, spoil: object
) -> None:
    node = nodes_dir(hass) / "damaged"
    node.mkdir(parents=True)
    spoil(node / COMMUNITY_FILE)  # type: ignore[operator]
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="cd" * 32,
        data={CONF_NODE_NAME: "Maison", CONF_NODE_DIR: "damaged"},
    )
    entry.add_to_hass(hass)
    result = await start_options(hass, entry.entry_id)
    assert result["step_id"] == "init"
    assert form_values(result, {})[CONF_MIN_SELL_PRICE] == pytest.approx(0.04)  # defaults
    result = await configure_options(hass, result, form_values(result, {}))
    assert result["type"] is FlowResultType.CREATE_ENTRY

    # Reconfigure keeps the title it cannot rebuild without the community's name.
    entry_title = entry.title
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await configure(hass, result, {CONF_NODE_NAME: "  ", CONF_PORT: 0})
    assert result["errors"] == {CONF_NODE_NAME: "name_required"}
    result = await configure(hass, result, {CONF_NODE_NAME: "Maison bleue", CONF_PORT: 0})
    assert result["reason"] == "reconfigure_successful"
    assert entry.title == entry_title
    assert entry.data[CONF_NODE_NAME] == "Maison bleue"


async def test_peers_given_as_ipv6_addresses(hass: HomeAssistant) -> None:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, {CONF_COMMUNITY_NAME: "Rue des Lilas", CONF_PORT: 0})
    result = await configure(hass, result, {"next_step_id": "entities"})
    entry = (await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"}))["result"]
    result = await start_options(hass, entry.entry_id)
    shown = form_values(result, {})
    result = await configure_options(hass, result, shown | {CONF_PEERS: ["[fe80::zz]:8765"]})
    assert result["errors"] == {CONF_PEERS: "invalid_peer"}
    assert placeholders(result)["peer"] == "[fe80::zz]:8765"
    result = await configure_options(hass, result, shown | {CONF_PEERS: ["[fd00::7]:8765"]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PEERS] == ["[fd00::7]:8765"]


# ---------------------------------------------------------------------- invites


async def test_an_invite_whose_signature_was_altered_is_refused_without_asking(
    hass: HomeAssistant, member: Member
) -> None:
    """A code re-encoded with another signature passes the checksum, not the check of
    the inviter's signature: refused here, the neighbour is not even contacted."""
    invite = Invite.decode(member.node.create_invite())
    altered = dataclasses.replace(invite, signature=bytes(64)).encode()
    asked = dict(member.node.redeem.counters())
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "join"})
    result = await configure(hass, result, {CONF_INVITE: altered, CONF_PORT: 0})
    assert result["errors"] == {"base": "forged"}
    assert member.node.redeem.counters() == asked  # neither admitted nor refused there


def test_every_refusal_of_the_engine_has_a_text_and_others_are_unknown() -> None:
    """The engine's reasons are all translated; a reason it might add later (or the
    base error's) is shown as "unknown", never as a raw key."""
    assert set(INVITE_ERRORS) <= INVITE_ERROR_KEYS
    for reason, error in INVITE_ERRORS.items():
        assert invite_error_key(error("detail")) == reason
    assert invite_error_key(InviteError("a reason from a newer engine")) == "unknown"


# ---------------------------------------------------------------------- stable paths


async def test_a_dongle_is_stored_by_its_by_id_path(hass: HomeAssistant, tmp_path: Path) -> None:
    """/dev/ttyUSB0 may be another dongle after a reboot; /dev/serial/by-id/… may not."""
    tty = tmp_path / "ttyUSB0"
    tty.touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "usb-FTDI_uTInfo-V3.0_DA0ABC-if00-port0"
    link.symlink_to(tty)
    discovery = UsbServiceInfo(
        device=str(tty),
        vid="0403",
        pid="6015",
        serial_number="DA0ABC",
        manufacturer="FTDI",
        description="uTInfo-V3.0",
    )
    with patch(f"{SERIAL}.BY_ID_DIR", by_id):
        result = await start(hass, SOURCE_USB, discovery)
        assert result["step_id"] == "user"
        result = await configure(hass, result, {CONF_NODE_NAME: "Maison"})
        result = await configure(hass, result, {"next_step_id": "create"})
        result = await configure(hass, result, {CONF_COMMUNITY_NAME: "Rue", CONF_PORT: 0})
        assert result["step_id"] == "tic"
        assert form_values(result, {"tic_mode": "auto"})[CONF_SERIAL_PORT] == str(link)
