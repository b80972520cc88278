"""Config flow: name this household's node, create a community or join one with an
invite, then say where its meter readings come from.

A neighbour's node found on the LAN (zeroconf) is offered, never joined silently: the
resident still pastes the invite that neighbour gave them.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from serial.tools import list_ports

from market.gossip.discovery import InvalidAnnouncementError, NodeAnnouncement
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.meter.errors import (
    InvalidBaudrateError,
    InvalidModeError,
    InvalidPortError,
    NoFrameError,
)
from market.meter.reader import read_one_frame
from market.meter.state import state_from_values
from market.node.errors import InviteError
from market.node.invite import Invite
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
    CONF_DONGLE_ID,
    CONF_EXPORT_POWER,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_FLOOR_PRICE,
    CONF_IMPORT_POWER,
    CONF_INVITE,
    CONF_MANUAL_PATH,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_MIN_SELL_PRICE,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_SELL_SURPLUS,
    CONF_SERIAL_PORT,
    CONF_SLOT_MINUTES,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_FLEXIBLE_LOAD,
    DEFAULT_FLEXIBLE_LOAD_W,
    DEFAULT_MAX_EXPORT_W,
    DEFAULT_MAX_IMPORT_W,
    DEFAULT_PORT,
    DEFAULT_SELL_SURPLUS,
    DEFAULT_UPDATE_INTERVAL_S,
    DOMAIN,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
    SLOT_MINUTES,
    TIC_MODES,
    TIC_PROBE_TIMEOUT_S,
)
from .flow_helpers import (
    STORAGE_ERRORS,
    InvalidPeerError,
    check_invite,
    create_community,
    default_options,
    dongle_id,
    entry_peers,
    invite_error_key,
    name_error,
    open_identity,
    parse_peers,
    read_community,
    record_membership,
    redeem_at_first,
    remove_node_dir,
    tidy_name,
)
from .runtime import node_path

MANUAL_PORT = "manual"
BY_ID_DIR = Path("/dev/serial/by-id")
MAX_PRICE = 100.0  # currency per kWh: far above any retail tariff


def _by_id_paths() -> dict[str, str]:
    by_id: dict[str, str] = {}
    if BY_ID_DIR.is_dir():
        for link in BY_ID_DIR.iterdir():
            by_id[os.path.realpath(link)] = str(link)
    return by_id


def stable_port_path(device: str) -> str:
    """The /dev/serial/by-id path of `device` when there is one (it survives replugging).

    Blocking (it reads /dev): run it in the executor.
    """
    return _by_id_paths().get(os.path.realpath(device), device)


def list_serial_ports() -> dict[str, str]:
    """Serial ports of this machine, by their stable /dev/serial/by-id path when one exists.

    Blocking (it reads sysfs): run it in the executor.
    """
    by_id = _by_id_paths()
    ports: dict[str, str] = {}
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        path = by_id.get(os.path.realpath(port.device), port.device)
        details = " - ".join(
            part for part in (port.description, port.manufacturer) if part and part != "n/a"
        )
        ports[path] = f"{path} ({details})" if details else path
    return ports


def local_dongle_id(port: str) -> str | None:
    """The identity (dongle_id) of the USB dongle at the device path `port`; None for a
    URL, or a port that is not a USB device of this machine.

    Blocking (it reads sysfs): run it in the executor.
    """
    if "://" in port:
        return None
    device = os.path.realpath(port)
    for info in list_ports.comports():
        if info.vid is not None and os.path.realpath(info.device) == device:
            return dongle_id(
                info.vid, info.pid, info.serial_number, info.manufacturer, info.description
            )
    return None


def entry_title(community_name: str, node_name: str) -> str:
    """A config entry's title: the community, then this household's node."""
    return f"{community_name} \N{EN DASH} {node_name}"


def _power_entity_selector() -> selector.EntitySelector:
    return selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor", device_class=SensorDeviceClass.POWER)
    )


def _price_selector(currency: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=0,
            max=MAX_PRICE,
            # Prices have 4 decimals (ticks of 0.0001); selectors step by 0.001 at the finest.
            step="any",
            unit_of_measurement=f"{currency}/kWh",
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def _power_selector(minimum: int) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=minimum,
            max=100_000,
            step=100,
            unit_of_measurement="W",
            mode=selector.NumberSelectorMode.BOX,
        )
    )


# What the agents read (market_hub, surplus): live grid power, nothing else. The import
# sensor is required: an energy index alone cannot drive them.
ENTITIES_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_IMPORT_POWER): _power_entity_selector(),
        vol.Optional(CONF_EXPORT_POWER): _power_entity_selector(),
    }
)

MODE_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=list(TIC_MODES),
        translation_key=CONF_TIC_MODE,
        mode=selector.SelectSelectorMode.DROPDOWN,
    )
)

PORT_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(min=0, max=65535, step=1, mode=selector.NumberSelectorMode.BOX)
)

SLOT_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[str(minutes) for minutes in SLOT_MINUTES],
        translation_key=CONF_SLOT_MINUTES,
        mode=selector.SelectSelectorMode.LIST,
    )
)

INVITE_SELECTOR = selector.TextSelector(selector.TextSelectorConfig(multiline=True))

PEERS_SELECTOR = selector.TextSelector(selector.TextSelectorConfig(multiple=True))


def _taken_ports(hass: HomeAssistant, exclude_entry_id: str | None = None) -> set[int]:
    """Ports the nodes of other entries listen on (0, any free port, never clashes)."""
    return {
        port
        for entry in hass.config_entries.async_entries(DOMAIN, include_ignore=False)
        if entry.entry_id != exclude_entry_id
        and isinstance(port := entry.data.get(CONF_PORT), int)
        and port != 0
    }


@callback
def _restart_unless_loaded(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A loaded entry applies its changes in its update listener; one still retrying (a
    taken port, a dongle not found) has none yet, so it is tried again at once."""
    if entry.state is ConfigEntryState.SETUP_RETRY:
        hass.config_entries.async_schedule_reload(entry.entry_id)


class P2PEnergyConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a household node."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        self._data: dict[str, Any] = {}
        self._tic_mode = "auto"
        self._discovered_port: str | None = None
        self._dongle_id: str | None = None
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
        if (entry := self._entry_reading(dongle, {port, device})) is not None:
            self._follow_dongle(entry, dongle, port)
            return self.async_abort(reason="already_configured")
        self._discovered_port = port
        self._dongle_id = dongle
        self.context["title_placeholders"] = {"name": port}
        return await self.async_step_user()

    def _entry_reading(self, dongle: str, paths: set[str]) -> ConfigEntry | None:
        """The entry that reads this dongle: the one that knows it, else the one that
        reads one of its `paths` (set up by path, or before dongles were identified)."""
        entries = [
            entry
            for entry in self._async_current_entries(include_ignore=False)
            if entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_TIC
        ]
        for entry in entries:
            if entry.data.get(CONF_DONGLE_ID) == dongle:
                return entry
        for entry in entries:
            if entry.data.get(CONF_SERIAL_PORT) in paths:
                return entry
        return None

    @callback
    def _follow_dongle(self, entry: ConfigEntry, dongle: str, port: str) -> None:
        """Record where the entry's dongle is now (discovery-update-info); a node whose
        dongle moved restarts to read it there."""
        moved = entry.data.get(CONF_SERIAL_PORT) != port
        updates = {CONF_SERIAL_PORT: port}
        if entry.data.get(CONF_DONGLE_ID) is None:
            updates[CONF_DONGLE_ID] = dongle  # it may move later: know it from now on
        self.hass.config_entries.async_update_entry(entry, data={**entry.data, **updates})
        if moved:
            _restart_unless_loaded(self.hass, entry)

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
        self.context["title_placeholders"] = {
            "name": announcement.name or announcement.host,
            "host": announcement.host,
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
            elif port in _taken_ports(self.hass):
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
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_NODE_NAME,
                    default=shown.get(CONF_NODE_NAME, self.hass.config.location_name),
                ): str,
                vol.Required(CONF_INVITE): INVITE_SELECTOR,
                vol.Required(CONF_PORT, default=shown.get(CONF_PORT, self._free_port())): (
                    PORT_SELECTOR
                ),
            }
        )
        return self.async_show_form(
            step_id="zeroconf_confirm",
            # Nothing secret is pre-filled: only the code this user typed is shown back.
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders={
                "name": announcement.name or announcement.host,
                "host": f"{announcement.host}:{announcement.port}",
            },
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
        default = self.hass.config.location_name
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema({vol.Required(CONF_NODE_NAME, default=default): str}),
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
            CONF_PORT: self._free_port(),
        } | (user_input or {})
        schema = vol.Schema(
            {
                vol.Required(CONF_COMMUNITY_NAME): str,
                vol.Required(CONF_SLOT_MINUTES, default=shown[CONF_SLOT_MINUTES]): SLOT_SELECTOR,
                vol.Required(CONF_FLOOR_PRICE, default=shown[CONF_FLOOR_PRICE]): (
                    _price_selector(currency)
                ),
                vol.Required(CONF_CEILING_PRICE, default=shown[CONF_CEILING_PRICE]): (
                    _price_selector(currency)
                ),
                vol.Required(CONF_PORT, default=shown[CONF_PORT]): PORT_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="create",
            data_schema=self.add_suggested_values_to_schema(schema, shown),
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
        if port in _taken_ports(self.hass):
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
        path = node_path(self.hass, self._new_node_dir())
        created_ms = time.time_ns() // 1_000_000
        try:
            identity, community = await self.hass.async_add_executor_job(
                create_community, path, name, created_ms, terms
            )
        except STORAGE_ERRORS:
            return {"base": "storage_failed"}
        await self.async_set_unique_id(community.community_id.hex())
        self._abort_if_unique_id_configured()
        self._joined(community, identity, port, [])
        return {}

    async def async_step_join(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Join a community with an invite code from one of its members."""
        errors: dict[str, str] = {}
        if user_input is not None:
            port = int(user_input[CONF_PORT])
            if port in _taken_ports(self.hass):
                errors[CONF_PORT] = "port_in_use"
            else:
                errors = await self._async_join(user_input[CONF_INVITE], port)
                if not errors:
                    return await self._async_step_meter_source()
        port_shown = (user_input or {}).get(CONF_PORT, self._free_port())
        schema = vol.Schema(
            {
                vol.Required(CONF_INVITE): INVITE_SELECTOR,
                vol.Required(CONF_PORT, default=port_shown): PORT_SELECTOR,
            }
        )
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
        path = node_path(self.hass, self._new_node_dir())
        try:
            # The key is made once per flow: a retry after a lost answer is the same node.
            identity = await self.hass.async_add_executor_job(open_identity, path)
        except STORAGE_ERRORS:
            return {"base": "storage_failed"}
        addresses = [address for address in (via, invite.address) if address is not None]
        try:
            redeemed = await redeem_at_first(
                async_get_clientsession(self.hass), invite, identity, addresses
            )
        except InviteError as err:
            return {"base": invite_error_key(err)}
        peers = list(dict.fromkeys((redeemed.address, invite.address)))
        try:
            await self.hass.async_add_executor_job(record_membership, path, invite.community, peers)
        except STORAGE_ERRORS:
            return {"base": "storage_failed"}
        self._joined(invite.community, identity, port, peers)
        return {}

    def _new_node_dir(self) -> str:
        if self._node_dir is None:
            self._node_dir = uuid.uuid4().hex
        return self._node_dir

    def _free_port(self) -> int:
        taken = _taken_ports(self.hass)
        port = DEFAULT_PORT
        while port in taken:
            port += 1
        return port

    def _joined(
        self, community: Community, identity: Identity, port: int, peers: list[str]
    ) -> None:
        self._community = community
        self._data.update(
            {
                CONF_NODE_DIR: self._new_node_dir(),
                CONF_PORT: port,
                CONF_COMMUNITY_ID: community.community_id.hex(),
                CONF_NODE_ID: identity.public_key.hex(),
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

    # ------------------------------------------------------------------ the meter

    async def _async_step_meter_source(self) -> ConfigFlowResult:
        if self._discovered_port is not None:
            return await self.async_step_tic()
        return await self.async_step_meter()

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose where meter readings come from: a Linky dongle or existing entities."""
        return self.async_show_menu(step_id="meter", menu_options=["tic", "entities"])

    async def async_step_tic(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the TIC dongle among the serial ports, or type its path or URL."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._tic_mode = user_input[CONF_TIC_MODE]
            if user_input[CONF_SERIAL_PORT] == MANUAL_PORT:
                return await self.async_step_tic_manual()
            errors = await self._probe(user_input[CONF_SERIAL_PORT])
            if not errors:
                return self._create_entry()
        ports = await self.hass.async_add_executor_job(list_serial_ports)
        if self._discovered_port is not None:
            ports.setdefault(self._discovered_port, self._discovered_port)
        options = [
            selector.SelectOptionDict(value=path, label=label) for path, label in ports.items()
        ]
        options.append(selector.SelectOptionDict(value=MANUAL_PORT, label=MANUAL_PORT))
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SERIAL_PORT, default=self._discovered_port or vol.UNDEFINED
                ): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, translation_key="serial_port")
                ),
                vol.Required(CONF_TIC_MODE, default=self._tic_mode): MODE_SELECTOR,
            }
        )
        return self.async_show_form(step_id="tic", data_schema=schema, errors=errors)

    async def async_step_tic_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Type a device path or a socket:// / rfc2217:// URL (ser2net)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._tic_mode = user_input[CONF_TIC_MODE]
            errors = await self._probe(user_input[CONF_MANUAL_PATH].strip())
            if not errors:
                return self._create_entry()
        schema = vol.Schema(
            {
                vol.Required(CONF_MANUAL_PATH): str,
                vol.Required(CONF_TIC_MODE, default=self._tic_mode): MODE_SELECTOR,
            }
        )
        return self.async_show_form(step_id="tic_manual", data_schema=schema, errors=errors)

    async def _probe(self, port: str) -> dict[str, str]:
        """Read one valid frame from `port`; on success remember the dongle, else say why."""
        try:
            frame = await read_one_frame(
                port, baudrate="auto", mode=self._tic_mode, wait_s=TIC_PROBE_TIMEOUT_S
            )
        except (InvalidPortError, InvalidModeError, InvalidBaudrateError):
            return {"base": "invalid_port"}
        except NoFrameError:
            return {"base": "no_frame"}
        except OSError:
            return {"base": "cannot_connect"}
        if port == self._discovered_port:
            dongle = self._dongle_id
        else:
            dongle = await self.hass.async_add_executor_job(local_dongle_id, port)
        self._data.update(
            {
                CONF_METER_SOURCE: METER_SOURCE_TIC,
                CONF_SERIAL_PORT: port,
                CONF_TIC_MODE: self._tic_mode,
                CONF_METER_ADDRESS: state_from_values(frame.mode, frame.datasets).address,
            }
        )
        if dongle is not None:
            self._data[CONF_DONGLE_ID] = dongle
        return {}

    async def async_step_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Use the grid power sensors this Home Assistant already has."""
        if user_input is not None:
            self._data.update({CONF_METER_SOURCE: METER_SOURCE_ENTITIES, **user_input})
            return self._create_entry()
        return self.async_show_form(step_id="entities", data_schema=ENTITIES_SCHEMA)

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
            if port in _taken_ports(self.hass, entry.entry_id):
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
                _restart_unless_loaded(self.hass, entry)
                return self.async_abort(reason="reconfigure_successful")
        shown: dict[str, Any] = {
            CONF_NODE_NAME: entry.data.get(CONF_NODE_NAME, ""),
            CONF_PORT: entry.data.get(CONF_PORT, DEFAULT_PORT),
            CONF_PEERS: entry_peers(entry.data, entry.options),
        } | (user_input or {})
        schema = vol.Schema(
            {
                vol.Required(CONF_NODE_NAME, default=shown[CONF_NODE_NAME]): str,
                vol.Required(CONF_PORT, default=shown[CONF_PORT]): PORT_SELECTOR,
                # Suggested, not a default: clearing every peer must stick.
                vol.Optional(CONF_PEERS): PEERS_SELECTOR,
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_title(self, entry: ConfigEntry, node_name: str) -> str:
        community = await _async_community_of(self.hass, entry)
        return entry.title if community is None else entry_title(community.name, node_name)


async def _async_community_of(hass: HomeAssistant, entry: ConfigEntry) -> Community | None:
    """The community the node of `entry` belongs to, None if its data dir holds none
    (or none that can be read)."""
    path = node_path(hass, entry.data[CONF_NODE_DIR])
    return await hass.async_add_executor_job(read_community, path)


def _announcement_of(discovery_info: ZeroconfServiceInfo) -> NodeAnnouncement:
    """The announcement of a discovered node, at its most recently seen IPv4 address
    (nodes serve IPv4 only). Raises InvalidAnnouncementError."""
    candidates = [discovery_info.ip_address, *discovery_info.ip_addresses]
    host = next((str(ip) for ip in candidates if ip.version == 4), discovery_info.host)
    return NodeAnnouncement.from_txt(discovery_info.properties, host, discovery_info.port)


class P2PEnergyOptionsFlow(OptionsFlow):
    """Change how the node behaves without setting it up again."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Prices and powers the agents work within, peers and the meter update interval."""
        entry = self.config_entry
        community = await _async_community_of(self.hass, entry)
        terms = CommunityTerms() if community is None else community.terms
        currency = self.hass.config.currency if community is None else terms.currency
        errors: dict[str, str] = {}
        placeholders = {
            "currency": currency,
            "floor": f"{to_price(terms.floor):.4f}",
            "ceiling": f"{to_price(terms.ceiling):.4f}",
        }
        if user_input is not None:
            options, errors, extra = _options_from(user_input)
            placeholders |= extra
            if not errors:
                return self.async_create_entry(data=options)
        current = entry.options
        shown: dict[str, Any] = {
            CONF_MAX_BUY_PRICE: to_price(current.get(CONF_MAX_BUY_PRICE, terms.ceiling)),
            CONF_MIN_SELL_PRICE: to_price(current.get(CONF_MIN_SELL_PRICE, terms.floor)),
            CONF_SELL_SURPLUS: current.get(CONF_SELL_SURPLUS, DEFAULT_SELL_SURPLUS),
            CONF_FLEXIBLE_LOAD: current.get(CONF_FLEXIBLE_LOAD, DEFAULT_FLEXIBLE_LOAD),
            CONF_FLEXIBLE_LOAD_W: current.get(CONF_FLEXIBLE_LOAD_W, DEFAULT_FLEXIBLE_LOAD_W),
            CONF_MAX_IMPORT_W: current.get(CONF_MAX_IMPORT_W, DEFAULT_MAX_IMPORT_W),
            CONF_MAX_EXPORT_W: current.get(CONF_MAX_EXPORT_W, DEFAULT_MAX_EXPORT_W),
            CONF_PEERS: entry_peers(entry.data, current),
            CONF_UPDATE_INTERVAL: current.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL_S),
        } | (user_input or {})
        fields: dict[str, selector.Selector[Any]] = {
            CONF_MAX_BUY_PRICE: _price_selector(currency),
            CONF_MIN_SELL_PRICE: _price_selector(currency),
            CONF_SELL_SURPLUS: selector.BooleanSelector(),
            CONF_FLEXIBLE_LOAD: selector.BooleanSelector(),
            CONF_FLEXIBLE_LOAD_W: _power_selector(100),
            CONF_MAX_IMPORT_W: _power_selector(0),
            CONF_MAX_EXPORT_W: _power_selector(0),
        }
        schema_dict: dict[vol.Marker, Any] = {
            vol.Required(key, default=shown[key]): field for key, field in fields.items()
        }
        # Suggested, not a default: clearing every peer must stick.
        schema_dict[vol.Optional(CONF_PEERS)] = PEERS_SELECTOR
        schema_dict[vol.Required(CONF_UPDATE_INTERVAL, default=shown[CONF_UPDATE_INTERVAL])] = (
            selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=1,
                    max=300,
                    step=1,
                    unit_of_measurement="s",
                    mode=selector.NumberSelectorMode.BOX,
                )
            )
        )
        schema = vol.Schema(schema_dict)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders=placeholders,
        )


def _options_from(
    user_input: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Options as stored (prices in ticks, powers in whole watts), the form's errors and
    the placeholders those errors need."""
    errors: dict[str, str] = {}
    placeholders: dict[str, str] = {}
    options: dict[str, Any] = {
        CONF_MAX_BUY_PRICE: to_ticks(user_input[CONF_MAX_BUY_PRICE]),
        CONF_MIN_SELL_PRICE: to_ticks(user_input[CONF_MIN_SELL_PRICE]),
        CONF_SELL_SURPLUS: bool(user_input[CONF_SELL_SURPLUS]),
        CONF_FLEXIBLE_LOAD: bool(user_input[CONF_FLEXIBLE_LOAD]),
        CONF_FLEXIBLE_LOAD_W: int(user_input[CONF_FLEXIBLE_LOAD_W]),
        CONF_MAX_IMPORT_W: int(user_input[CONF_MAX_IMPORT_W]),
        CONF_MAX_EXPORT_W: int(user_input[CONF_MAX_EXPORT_W]),
        CONF_UPDATE_INTERVAL: int(user_input[CONF_UPDATE_INTERVAL]),
    }
    try:
        options[CONF_PEERS] = parse_peers(user_input.get(CONF_PEERS, []))
    except InvalidPeerError as err:
        errors[CONF_PEERS] = "invalid_peer"
        placeholders["peer"] = err.peer
    if options[CONF_FLEXIBLE_LOAD] and options[CONF_FLEXIBLE_LOAD_W] > options[CONF_MAX_IMPORT_W]:
        errors[CONF_FLEXIBLE_LOAD_W] = "flexible_load_over_import"
    return options, errors, placeholders
