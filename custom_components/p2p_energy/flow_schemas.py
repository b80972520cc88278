"""The forms of the config, reconfigure and options flows: their fields and selectors.

Each builder takes the values the form starts with; the flows decide those (defaults,
what the user typed last) and whether they are defaults or only suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import voluptuous as vol
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.helpers import selector

from market.tariff import TARIFF_PRESETS

from .const import (
    CONF_BUY_CONSUMPTION,
    CONF_CEILING_PRICE,
    CONF_COMMUNITY_NAME,
    CONF_EXPORT_ENERGY,
    CONF_EXPORT_POWER,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_FLOOR_PRICE,
    CONF_IMPORT_ENERGY,
    CONF_IMPORT_POWER,
    CONF_INVITE,
    CONF_MANUAL_PATH,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_MIN_SELL_PRICE,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_PV_ENERGY,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_SELL_SURPLUS,
    CONF_SERIAL_PORT,
    CONF_SLOT_MINUTES,
    CONF_TARIFF,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    SLOT_MINUTES,
    TARIFF_AUTO,
    TIC_MODES,
)

# The port list's last choice: type a path or a URL instead.
MANUAL_PORT = "manual"
MAX_PRICE = 100.0  # currency per kWh: far above any retail tariff


def _power_entity_selector() -> selector.EntitySelector:
    return selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor", device_class=SensorDeviceClass.POWER)
    )


def _energy_entity_selector() -> selector.EntitySelector:
    # The state class (an index, not a rate) is checked by the flows: energy_sensors.py.
    return selector.EntitySelector(
        selector.EntitySelectorConfig(domain="sensor", device_class=SensorDeviceClass.ENERGY)
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


# What the agents read (readings.py): live grid power. The import sensor is required:
# an energy index alone cannot drive them. The energy sensors, optional, are what the
# node's readings are measured from (energy_sensors.py).
ENTITIES_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_IMPORT_POWER): _power_entity_selector(),
        vol.Optional(CONF_EXPORT_POWER): _power_entity_selector(),
        vol.Optional(CONF_IMPORT_ENERGY): _energy_entity_selector(),
        vol.Optional(CONF_EXPORT_ENERGY): _energy_entity_selector(),
        vol.Optional(CONF_PV_ENERGY): _energy_entity_selector(),
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

UPDATE_INTERVAL_SELECTOR = selector.NumberSelector(
    selector.NumberSelectorConfig(
        min=1, max=300, step=1, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX
    )
)


def user_schema(node_name: str) -> vol.Schema:
    """The node's name."""
    return vol.Schema({vol.Required(CONF_NODE_NAME, default=node_name): str})


def create_schema(currency: str, shown: Mapping[str, Any]) -> vol.Schema:
    """A new community: its name, slot length and price bounds, and this node's port."""
    return vol.Schema(
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


def join_schema(port: int) -> vol.Schema:
    """An invite code, and this node's port."""
    return vol.Schema(
        {
            vol.Required(CONF_INVITE): INVITE_SELECTOR,
            vol.Required(CONF_PORT, default=port): PORT_SELECTOR,
        }
    )


def zeroconf_schema(node_name: str, port: int) -> vol.Schema:
    """Joining a discovered neighbour's community: the node's name, the neighbour's
    invite code and this node's port (the user step was skipped)."""
    return vol.Schema(
        {
            vol.Required(CONF_NODE_NAME, default=node_name): str,
            vol.Required(CONF_INVITE): INVITE_SELECTOR,
            vol.Required(CONF_PORT, default=port): PORT_SELECTOR,
        }
    )


def tic_schema(ports: Mapping[str, str], port: str | None, mode: str) -> vol.Schema:
    """A port among `ports` (path -> label), or the manual choice, and the TIC mode."""
    options = [selector.SelectOptionDict(value=path, label=label) for path, label in ports.items()]
    options.append(selector.SelectOptionDict(value=MANUAL_PORT, label=MANUAL_PORT))
    return vol.Schema(
        {
            vol.Required(CONF_SERIAL_PORT, default=port or vol.UNDEFINED): selector.SelectSelector(
                selector.SelectSelectorConfig(options=options, translation_key="serial_port")
            ),
            vol.Required(CONF_TIC_MODE, default=mode): MODE_SELECTOR,
        }
    )


def tic_manual_schema(mode: str) -> vol.Schema:
    """A device path or URL typed by hand, and the TIC mode."""
    return vol.Schema(
        {
            vol.Required(CONF_MANUAL_PATH): str,
            vol.Required(CONF_TIC_MODE, default=mode): MODE_SELECTOR,
        }
    )


def reconfigure_schema(shown: Mapping[str, Any]) -> vol.Schema:
    """The node's name, port and manual peers."""
    return vol.Schema(
        {
            vol.Required(CONF_NODE_NAME, default=shown[CONF_NODE_NAME]): str,
            vol.Required(CONF_PORT, default=shown[CONF_PORT]): PORT_SELECTOR,
            # Suggested, not a default: clearing every peer must stick.
            vol.Optional(CONF_PEERS): PEERS_SELECTOR,
        }
    )


TARIFF_SELECTOR = selector.SelectSelector(
    selector.SelectSelectorConfig(
        options=[TARIFF_AUTO, *TARIFF_PRESETS],
        mode=selector.SelectSelectorMode.DROPDOWN,
        translation_key=CONF_TARIFF,
    )
)


def options_schema(
    currency: str, shown: Mapping[str, Any], energy_keys: Iterable[str] = ()
) -> vol.Schema:
    """The prices, powers and quiet hours the agents work within, the energy sensors
    `energy_keys`, peers and the update interval."""
    fields: dict[str, selector.Selector[Any]] = {
        CONF_TARIFF: TARIFF_SELECTOR,
        CONF_MAX_BUY_PRICE: _price_selector(currency),
        CONF_MIN_SELL_PRICE: _price_selector(currency),
        CONF_SELL_SURPLUS: selector.BooleanSelector(),
        CONF_BUY_CONSUMPTION: selector.BooleanSelector(),
        CONF_FLEXIBLE_LOAD: selector.BooleanSelector(),
        CONF_FLEXIBLE_LOAD_W: _power_selector(100),
        CONF_MAX_IMPORT_W: _power_selector(0),
        CONF_MAX_EXPORT_W: _power_selector(0),
    }
    schema: dict[vol.Marker, Any] = {
        vol.Required(key, default=shown[key]): field for key, field in fields.items()
    }
    # Suggested, not defaults: clearing a sensor, every peer or the quiet hours must stick.
    schema[vol.Optional(CONF_QUIET_START)] = selector.TimeSelector()
    schema[vol.Optional(CONF_QUIET_END)] = selector.TimeSelector()
    for key in energy_keys:
        schema[vol.Optional(key)] = _energy_entity_selector()
    schema[vol.Optional(CONF_PEERS)] = PEERS_SELECTOR
    schema[vol.Required(CONF_UPDATE_INTERVAL, default=shown[CONF_UPDATE_INTERVAL])] = (
        UPDATE_INTERVAL_SELECTOR
    )
    return vol.Schema(schema)
