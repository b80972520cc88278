"""Config flow: name this household's node, then say where its meter readings come from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import voluptuous as vol
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers import selector
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from serial.tools import list_ports

from market.meter.errors import (
    InvalidBaudrateError,
    InvalidModeError,
    InvalidPortError,
    NoFrameError,
)
from market.meter.reader import read_one_frame
from market.meter.state import state_from_values

from .const import (
    CONF_EXPORT_ENERGY,
    CONF_EXPORT_POWER,
    CONF_IMPORT_ENERGY,
    CONF_IMPORT_POWER,
    CONF_MANUAL_PATH,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_NODE_NAME,
    CONF_PV_ENERGY,
    CONF_PV_POWER,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL_S,
    DOMAIN,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
    TIC_MODES,
    TIC_PROBE_TIMEOUT_S,
)

NODE_NAME_MAX_LEN = 64
MANUAL_PORT = "manual"
BY_ID_DIR = Path("/dev/serial/by-id")


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


def _energy_selector(device_class: SensorDeviceClass) -> selector.EntitySelector:
    return selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor", device_class=device_class)
    )


ENTITIES_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_IMPORT_ENERGY): _energy_selector(SensorDeviceClass.ENERGY),
        vol.Optional(CONF_EXPORT_ENERGY): _energy_selector(SensorDeviceClass.ENERGY),
        vol.Optional(CONF_IMPORT_POWER): _energy_selector(SensorDeviceClass.POWER),
        vol.Optional(CONF_EXPORT_POWER): _energy_selector(SensorDeviceClass.POWER),
        vol.Optional(CONF_PV_ENERGY): _energy_selector(SensorDeviceClass.ENERGY),
        vol.Optional(CONF_PV_POWER): _energy_selector(SensorDeviceClass.POWER),
    }
)

MODE_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=list(TIC_MODES),
        translation_key=CONF_TIC_MODE,
        mode=selector.SelectSelectorMode.DROPDOWN,
    )
)


class P2PEnergyConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a household node."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing known."""
        self._data: dict[str, Any] = {}
        self._tic_mode = "auto"
        self._discovered_port: str | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> P2PEnergyOptionsFlow:
        """Options: how often meter values are written to entities."""
        return P2PEnergyOptionsFlow()

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """A TIC dongle was plugged in: offer it, the user names the node first."""
        port = await self.hass.async_add_executor_job(stable_port_path, discovery_info.device)
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_SERIAL_PORT) in (port, discovery_info.device):
                return self.async_abort(reason="already_configured")
        self._discovered_port = port
        self.context["title_placeholders"] = {"port": port}
        return await self.async_step_user()

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the name under which neighbours will see this household."""
        errors: dict[str, str] = {}
        if user_input is not None:
            name = " ".join(str(user_input[CONF_NODE_NAME]).split())
            if not name:
                errors[CONF_NODE_NAME] = "name_required"
            elif len(name) > NODE_NAME_MAX_LEN:
                errors[CONF_NODE_NAME] = "name_too_long"
            else:
                await self.async_set_unique_id(name.casefold())
                self._abort_if_unique_id_configured()
                self._data[CONF_NODE_NAME] = name
                if self._discovered_port is not None:
                    return await self.async_step_tic()
                return await self.async_step_meter()
        default = self.hass.config.location_name
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema({vol.Required(CONF_NODE_NAME, default=default): str}),
            errors=errors,
        )

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
        self._data.update(
            {
                CONF_METER_SOURCE: METER_SOURCE_TIC,
                CONF_SERIAL_PORT: port,
                CONF_TIC_MODE: self._tic_mode,
                CONF_METER_ADDRESS: state_from_values(frame.mode, frame.datasets).address,
            }
        )
        return {}

    async def async_step_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Use the grid and PV sensors this Home Assistant already has."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if not (user_input.get(CONF_IMPORT_ENERGY) or user_input.get(CONF_IMPORT_POWER)):
                errors["base"] = "import_required"
            else:
                self._data.update({CONF_METER_SOURCE: METER_SOURCE_ENTITIES, **user_input})
                return self._create_entry()
        return self.async_show_form(
            step_id="entities",
            data_schema=self.add_suggested_values_to_schema(ENTITIES_SCHEMA, user_input or {}),
            errors=errors,
        )

    def _create_entry(self) -> ConfigFlowResult:
        return self.async_create_entry(title=self._data[CONF_NODE_NAME], data=self._data)


class P2PEnergyOptionsFlow(OptionsFlow):
    """Change how the node behaves without setting it up again."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """How often meter values reach entities (an overcurrent warning is never held)."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        current = self.config_entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL_S)
        schema = vol.Schema(
            {
                vol.Required(CONF_UPDATE_INTERVAL, default=current): selector.NumberSelector(
                    selector.NumberSelectorConfig(
                        min=1,
                        max=300,
                        step=1,
                        unit_of_measurement="s",
                        mode=selector.NumberSelectorMode.BOX,
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)
