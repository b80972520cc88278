"""The config flow's last steps: where this household's meter readings come from, a
Linky dongle (its TIC output) or the grid power and energy sensors Home Assistant
already has.

They are a base class of the config flow rather than part of it so that the flow reads
as its other concerns (discovery, the node, its community); the steps only add the
meter's keys to `_data`, and the flow's `_create_entry` makes the entry.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

from .const import (
    CONF_DONGLE_ID,
    CONF_MANUAL_PATH,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)
from .energy_sensors import ENERGY_KEYS, energy_errors
from .flow_schemas import ENTITIES_SCHEMA, MANUAL_PORT, tic_manual_schema, tic_schema
from .serial_ports import ProbeFailedError, list_serial_ports, local_dongle_id, probe_meter


class MeterSourceFlow(ConfigFlow):
    """The meter steps of the config flow (see the module's docstring)."""

    def __init__(self) -> None:
        """No meter yet; USB discovery sets the dongle it found before these steps."""
        self._data: dict[str, Any] = {}
        self._tic_mode = "auto"
        self._discovered_port: str | None = None
        self._dongle_id: str | None = None

    def _create_entry(self) -> ConfigFlowResult:
        """The entry, once its meter is known (the flow knows the rest of its data)."""
        raise NotImplementedError

    async def _async_step_meter_source(self) -> ConfigFlowResult:
        """The first meter step: a discovered dongle is offered at once."""
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
        schema = tic_schema(ports, self._discovered_port, self._tic_mode)
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
        return self.async_show_form(
            step_id="tic_manual", data_schema=tic_manual_schema(self._tic_mode), errors=errors
        )

    async def _probe(self, port: str) -> dict[str, str]:
        """Read one valid frame from `port`; on success remember the dongle, else say why."""
        try:
            address = await probe_meter(port, self._tic_mode)
        except ProbeFailedError as err:
            return {"base": err.key}
        if port == self._discovered_port:
            dongle = self._dongle_id
        else:
            dongle = await self.hass.async_add_executor_job(local_dongle_id, port)
        self._data.update(
            {
                CONF_METER_SOURCE: METER_SOURCE_TIC,
                CONF_SERIAL_PORT: port,
                CONF_TIC_MODE: self._tic_mode,
                CONF_METER_ADDRESS: address,
            }
        )
        if dongle is not None:
            self._data[CONF_DONGLE_ID] = dongle
        return {}

    async def async_step_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Use the grid power sensors this Home Assistant already has, and its energy
        sensors (the grid's indexes, the PV production) if it has them."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = energy_errors(self.hass, {key: user_input.get(key) for key in ENERGY_KEYS})
            if not errors:
                self._data.update({CONF_METER_SOURCE: METER_SOURCE_ENTITIES, **user_input})
                return self._create_entry()
        return self.async_show_form(
            step_id="entities",
            data_schema=self.add_suggested_values_to_schema(ENTITIES_SCHEMA, user_input or {}),
            errors=errors,
        )
