"""Config flow: name this household's node."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

from .const import CONF_NODE_NAME, DOMAIN

NODE_NAME_MAX_LEN = 64


class P2PEnergyConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a household node."""

    VERSION = 1

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
                return self.async_create_entry(title=name, data={CONF_NODE_NAME: name})
        default = self.hass.config.location_name
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema({vol.Required(CONF_NODE_NAME, default=default): str}),
            errors=errors,
        )
