"""Config flow: name this household's node, create a community or join one with an
invite, then say where its meter readings come from.

A neighbour's node found on the LAN (zeroconf) is offered, never joined silently: the
resident still pastes the invite that neighbour gave them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigFlowResult
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from market.gossip.discovery import InvalidAnnouncementError, NodeAnnouncement
from market.ledger.community import Community
from market.node.datadir import DataDir
from market.node.errors import InviteError
from market.node.invite import Invite
from market.node.setup import create_community
from market.terms import (
    FRENCH_FEED_IN_TICKS,
    FRENCH_RETAIL_TICKS,
    CommunityTerms,
    InvalidCommunityTermsError,
)
from market.units import to_price, to_ticks

from .const import (
    CONF_CEILING_PRICE,
    CONF_COMMUNITY_ID,
    CONF_COMMUNITY_NAME,
    CONF_FLOOR_PRICE,
    CONF_INVITE,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_SLOT_MINUTES,
    DEFAULT_PORT,
    DOMAIN,
    SLOT_MINUTES,
)
from .flow_entries import (
    async_community_of,
    entry_reading,
    entry_title,
    follow_dongle,
    free_port,
    restart_unless_loaded,
    taken_ports,
)
from .flow_helpers import (
    STORAGE_ERRORS,
    InvalidPeerError,
    check_invite,
    default_options,
    entry_peers,
    invite_error_key,
    join_at_first,
    name_error,
    parse_peers,
    remove_node_dir,
    tidy_name,
)
from .flow_schemas import (
    create_schema,
    join_schema,
    reconfigure_schema,
    user_schema,
    zeroconf_schema,
)
from .meter_flow import MeterSourceFlow
from .options_flow import P2PEnergyOptionsFlow
from .runtime import node_path
from .serial_ports import dongle_id, stable_port_path


class P2PEnergyConfigFlow(MeterSourceFlow, domain=DOMAIN):
    """Set up a household node (its meter steps are MeterSourceFlow's)."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        super().__init__()
        self._announcement: NodeAnnouncement | None = None
        self._node_dir: str | None = None
        self._community: Community | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> P2PEnergyOptionsFlow:
        """Options: prices, what the agents may do, limits, peers, update interval."""
        return P2PEnergyOptionsFlow()

    # ------------------------------------------------------------------ discovery

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """A TIC dongle was plugged in: offer it, the user names the node first.

        Until a community is chosen the flow's unique id is the dongle's, so that the
        offer can be ignored (an ignored dongle is never offered again); then it becomes
        the community's, the entry's unique id. The entry remembers its dongle by
        dongle_id, so that the dongle is recognised on another path.
        """
        device = discovery_info.device
        port = await self.hass.async_add_executor_job(stable_port_path, device)
        dongle = dongle_id(
            discovery_info.vid,
            discovery_info.pid,
            discovery_info.serial_number,
            discovery_info.manufacturer,
            discovery_info.description,
        )
        await self.async_set_unique_id(dongle)
        self._abort_if_unique_id_configured()  # an ignored dongle
        if (entry := entry_reading(self.hass, dongle, {port, device})) is not None:
            follow_dongle(self.hass, entry, dongle, port)
            return self.async_abort(reason="already_configured")
        self._discovered_port = port
        self._dongle_id = dongle
        self.context["title_placeholders"] = {"name": port}
        return await self.async_step_user()

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A neighbour's node announces its community on the LAN: offer to join it."""
        try:
            announcement = _announcement_of(discovery_info)
        except InvalidAnnouncementError:
            return self.async_abort(reason="invalid_discovery")
        node_id = announcement.node_id.hex()
        if any(
            entry.data.get(CONF_NODE_ID) == node_id
            for entry in self._async_current_entries(include_ignore=False)
        ):
            return self.async_abort(reason="own_node")
        await self.async_set_unique_id(announcement.community_id.hex())
        self._abort_if_unique_id_configured()
        self._announcement = announcement
        # Its address, not a name: an announcement names nobody (docs/protocol.md,
        # "Discovery"), and anything in it is unauthenticated.
        self.context["title_placeholders"] = {
            "name": f"{announcement.host}:{announcement.port}",
        }
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Join the discovered neighbour's community with the invite they gave."""
        announcement = self._announcement
        assert announcement is not None  # set by async_step_zeroconf, the only way here
        errors: dict[str, str] = {}
        if user_input is not None:
            name = tidy_name(user_input[CONF_NODE_NAME])
            port = int(user_input[CONF_PORT])
            if error := name_error(name):
                errors[CONF_NODE_NAME] = error
            elif port in taken_ports(self.hass):
                errors[CONF_PORT] = "port_in_use"
            else:
                self._data[CONF_NODE_NAME] = name
                neighbour = f"{announcement.host}:{announcement.port}"
                errors = await self._async_join(
                    user_input[CONF_INVITE],
                    port,
                    expected_community=announcement.community_id,
                    via=neighbour,
                )
                if not errors:
                    return await self._async_step_meter_source()
        shown = user_input or {}
        schema = zeroconf_schema(
            shown.get(CONF_NODE_NAME, self.hass.config.location_name),
            shown.get(CONF_PORT, free_port(self.hass)),
        )
        return self.async_show_form(
            step_id="zeroconf_confirm",
            # Nothing secret is pre-filled: only the code this user typed is shown back.
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={"host": f"{announcement.host}:{announcement.port}"},
        )

    # ------------------------------------------------------------------ the node

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the name under which neighbours will see this household."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = tidy_name(user_input[CONF_NODE_NAME])
            if error := name_error(name):
                errors[CONF_NODE_NAME] = error
            else:
                self._data[CONF_NODE_NAME] = name
                return await self.async_step_community()
        return self.async_show_form(
            step_id="user",
            data_schema=user_schema(self.hass.config.location_name),
            errors=errors,
        )

    async def async_step_community(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Start a community, or join a neighbour's."""
        return self.async_show_menu(step_id="community", menu_options=["create", "join"])

    async def async_step_create(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Create a community whose first member is this household."""
        errors: dict[str, str] = {}
        currency = self.hass.config.currency
        if user_input is not None:
            errors = await self._async_create(user_input, currency)
            if not errors:
                return await self._async_step_meter_source()
        shown: dict[str, Any] = {
            CONF_SLOT_MINUTES: str(SLOT_MINUTES[0]),
            CONF_FLOOR_PRICE: to_price(FRENCH_FEED_IN_TICKS),
            CONF_CEILING_PRICE: to_price(FRENCH_RETAIL_TICKS),
            CONF_PORT: free_port(self.hass),
        } | (user_input or {})
        return self.async_show_form(
            step_id="create",
            data_schema=self.add_suggested_values_to_schema(create_schema(currency, shown), shown),
            errors=errors,
            description_placeholders={"currency": currency},
        )

    async def _async_create(self, user_input: dict[str, Any], currency: str) -> dict[str, str]:
        name = tidy_name(user_input[CONF_COMMUNITY_NAME])
        floor = to_ticks(user_input[CONF_FLOOR_PRICE])
        ceiling = to_ticks(user_input[CONF_CEILING_PRICE])
        port = int(user_input[CONF_PORT])
        if error := name_error(name):
            return {CONF_COMMUNITY_NAME: error}
        if floor > ceiling:
            return {"base": "floor_above_ceiling"}
        if port in taken_ports(self.hass):
            return {CONF_PORT: "port_in_use"}
        try:
            terms = CommunityTerms(
                slot_s=int(user_input[CONF_SLOT_MINUTES]) * 60,
                floor=floor,
                ceiling=ceiling,
                currency=currency,
            )
        except InvalidCommunityTermsError:
            return {"base": "invalid_terms"}
        data = DataDir(node_path(self.hass, self._new_node_dir()))
        try:
            community = await create_community(
                data, name, terms, now_ms=time.time_ns() // 1_000_000
            )
        except STORAGE_ERRORS:
            return {"base": "storage_failed"}
        await self.async_set_unique_id(community.community_id.hex())
        self._abort_if_unique_id_configured()
        (node_key,) = community.genesis_members  # this node, its only founder
        self._joined(community, node_key, port, [])
        return {}

    async def async_step_join(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Join a community with an invite code from one of its members."""
        errors: dict[str, str] = {}
        if user_input is not None:
            port = int(user_input[CONF_PORT])
            if port in taken_ports(self.hass):
                errors[CONF_PORT] = "port_in_use"
            else:
                errors = await self._async_join(user_input[CONF_INVITE], port)
                if not errors:
                    return await self._async_step_meter_source()
        schema = join_schema((user_input or {}).get(CONF_PORT, free_port(self.hass)))
        return self.async_show_form(
            step_id="join",
            # Nothing secret is pre-filled: only the code this user typed is shown back.
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
        )

    async def _async_join(
        self,
        code: str,
        port: int,
        *,
        expected_community: bytes | None = None,
        via: str | None = None,
    ) -> dict[str, str]:
        """Redeem the invite `code` (first at `via`, a member known to be reachable);
        on success remember the community and the members met. Returns form errors."""
        try:
            invite = Invite.decode(code)
            if (
                expected_community is not None
                and invite.community.community_id != expected_community
            ):
                return {"base": "wrong_community"}
            await self.async_set_unique_id(
                invite.community.community_id.hex(), raise_on_progress=False
            )
            self._abort_if_unique_id_configured()
            check_invite(invite, now_s=time.time_ns() // 1_000_000_000)
        except InviteError as err:
            return {"base": invite_error_key(err)}
        # One data dir, so one key, per flow: a retry after a lost answer (or after a
        # disk that failed once the member had admitted this node) is the same node.
        data = DataDir(node_path(self.hass, self._new_node_dir()))
        addresses = [address for address in (via, invite.address) if address is not None]
        try:
            joined = await join_at_first(async_get_clientsession(self.hass), data, code, addresses)
        except InviteError as err:
            return {"base": invite_error_key(err)}
        except STORAGE_ERRORS:
            return {"base": "storage_failed"}
        peers = list(dict.fromkeys((joined.address, invite.address)))
        self._joined(invite.community, joined.member, port, peers)
        return {}

    def _new_node_dir(self) -> str:
        if self._node_dir is None:
            self._node_dir = uuid.uuid4().hex
        return self._node_dir

    def _joined(self, community: Community, node_key: bytes, port: int, peers: list[str]) -> None:
        self._community = community
        self._data.update(
            {
                CONF_NODE_DIR: self._new_node_dir(),
                CONF_PORT: port,
                CONF_COMMUNITY_ID: community.community_id.hex(),
                CONF_NODE_ID: node_key.hex(),
                CONF_PEERS: peers,
            }
        )

    @callback
    def async_remove(self) -> None:
        """The flow ended: a node that no entry uses is forgotten (key included)."""
        node_dir = self._node_dir
        if node_dir is None or any(
            entry.data.get(CONF_NODE_DIR) == node_dir
            for entry in self.hass.config_entries.async_entries(DOMAIN)
        ):
            return
        self.hass.async_add_executor_job(remove_node_dir, node_path(self.hass, node_dir))

    # ------------------------------------------------------------------ the entry

    def _create_entry(self) -> ConfigFlowResult:
        community = self._community
        assert community is not None  # every way to the meter steps joins a community first
        return self.async_create_entry(
            title=entry_title(community.name, self._data[CONF_NODE_NAME]),
            data=self._data,
            options=default_options(community.terms),
        )

    # ------------------------------------------------------------------ reconfigure

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Rename the node, move it to another port or change its manual peers."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            name = tidy_name(user_input[CONF_NODE_NAME])
            port = int(user_input[CONF_PORT])
            peers: list[str] = []
            try:
                peers = parse_peers(user_input.get(CONF_PEERS, []))
            except InvalidPeerError as err:
                errors[CONF_PEERS] = "invalid_peer"
                placeholders["peer"] = err.peer
            if error := name_error(name):
                errors[CONF_NODE_NAME] = error
            if port in taken_ports(self.hass, entry.entry_id):
                errors[CONF_PORT] = "port_in_use"
            if not errors:
                self.hass.config_entries.async_update_entry(
                    entry,
                    title=await self._async_title(entry, name),
                    data=entry.data | {CONF_NODE_NAME: name, CONF_PORT: port, CONF_PEERS: peers},
                    options=(
                        entry.options | {CONF_PEERS: peers}
                        if CONF_PEERS in entry.options
                        else entry.options
                    ),
                )
                restart_unless_loaded(self.hass, entry)
                return self.async_abort(reason="reconfigure_successful")
        shown: dict[str, Any] = {
            CONF_NODE_NAME: entry.data.get(CONF_NODE_NAME, ""),
            CONF_PORT: entry.data.get(CONF_PORT, DEFAULT_PORT),
            CONF_PEERS: entry_peers(entry.data, entry.options),
        } | (user_input or {})
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(reconfigure_schema(shown), shown),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_title(self, entry: ConfigEntry, node_name: str) -> str:
        community = await async_community_of(self.hass, entry)
        return entry.title if community is None else entry_title(community.name, node_name)


def _announcement_of(discovery_info: ZeroconfServiceInfo) -> NodeAnnouncement:
    """The announcement of a discovered node, at its most recently seen IPv4 address
    (nodes serve IPv4 only). Raises InvalidAnnouncementError."""
    candidates = [discovery_info.ip_address, *discovery_info.ip_addresses]
    host = next((str(ip) for ip in candidates if ip.version == 4), discovery_info.host)
    return NodeAnnouncement.from_txt(discovery_info.properties, host, discovery_info.port)
