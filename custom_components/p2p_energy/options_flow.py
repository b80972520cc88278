"""Options flow: the prices, powers and quiet hours the agents work within, the energy
sensors, the node's peers and the meter's update interval, changed without setting the
node up again."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow

from market.terms import CommunityTerms
from market.units import to_price, to_ticks

from .const import (
    CONF_BUY_CONSUMPTION,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_METER_SOURCE,
    CONF_MIN_SELL_PRICE,
    CONF_PEERS,
    CONF_PV_ENERGY,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_SELL_SURPLUS,
    CONF_TARIFF,
    CONF_UPDATE_INTERVAL,
    DEFAULT_BUY_CONSUMPTION,
    DEFAULT_FLEXIBLE_LOAD,
    DEFAULT_FLEXIBLE_LOAD_W,
    DEFAULT_MAX_EXPORT_W,
    DEFAULT_MAX_IMPORT_W,
    DEFAULT_SELL_SURPLUS,
    DEFAULT_UPDATE_INTERVAL_S,
    METER_SOURCE_ENTITIES,
    TARIFF_AUTO,
)
from .energy_sensors import GRID_ENERGY_KEYS, energy_errors, entry_sensor
from .flow_entries import async_community_of
from .flow_helpers import InvalidPeerError, entry_peers, parse_peers
from .flow_schemas import options_schema
from .household_agents import minute_of_day


class P2PEnergyOptionsFlow(OptionsFlow):
    """Change how the node behaves without setting it up again."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Prices and powers the agents work within, energy sensors, peers and the meter
        update interval."""
        entry = self.config_entry
        # A Linky's indexes beat grid energy sensors: only the PV sensor is asked for then.
        energy_keys = (
            (*GRID_ENERGY_KEYS, CONF_PV_ENERGY)
            if entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_ENTITIES
            else (CONF_PV_ENERGY,)
        )
        community = await async_community_of(self.hass, entry)
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
            sensors = {key: user_input.get(key) for key in energy_keys}
            errors |= energy_errors(self.hass, sensors)
            # The options win over the set-up's sensors: None where one was cleared.
            options |= {
                key: sensor for key, sensor in sensors.items() if sensor or entry.data.get(key)
            }
            if not errors:
                return self.async_create_entry(data=options)
        current = entry.options
        shown: dict[str, Any] = {
            CONF_TARIFF: current.get(CONF_TARIFF, TARIFF_AUTO),
            CONF_MAX_BUY_PRICE: to_price(current.get(CONF_MAX_BUY_PRICE, terms.ceiling)),
            CONF_MIN_SELL_PRICE: to_price(current.get(CONF_MIN_SELL_PRICE, terms.floor)),
            CONF_SELL_SURPLUS: current.get(CONF_SELL_SURPLUS, DEFAULT_SELL_SURPLUS),
            CONF_BUY_CONSUMPTION: current.get(CONF_BUY_CONSUMPTION, DEFAULT_BUY_CONSUMPTION),
            CONF_FLEXIBLE_LOAD: current.get(CONF_FLEXIBLE_LOAD, DEFAULT_FLEXIBLE_LOAD),
            CONF_FLEXIBLE_LOAD_W: current.get(CONF_FLEXIBLE_LOAD_W, DEFAULT_FLEXIBLE_LOAD_W),
            CONF_MAX_IMPORT_W: current.get(CONF_MAX_IMPORT_W, DEFAULT_MAX_IMPORT_W),
            CONF_MAX_EXPORT_W: current.get(CONF_MAX_EXPORT_W, DEFAULT_MAX_EXPORT_W),
            CONF_PEERS: entry_peers(entry.data, current),
            CONF_UPDATE_INTERVAL: current.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL_S),
        }
        shown |= {key: current[key] for key in (CONF_QUIET_START, CONF_QUIET_END) if key in current}
        if user_input is None:
            shown |= {key: sensor for key in energy_keys if (sensor := entry_sensor(entry, key))}
        else:
            shown |= user_input  # a sensor just cleared is not suggested again
        schema = options_schema(currency, shown, energy_keys)
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
        CONF_TARIFF: str(user_input[CONF_TARIFF]),
        CONF_MAX_BUY_PRICE: to_ticks(user_input[CONF_MAX_BUY_PRICE]),
        CONF_MIN_SELL_PRICE: to_ticks(user_input[CONF_MIN_SELL_PRICE]),
        CONF_SELL_SURPLUS: bool(user_input[CONF_SELL_SURPLUS]),
        CONF_BUY_CONSUMPTION: bool(user_input[CONF_BUY_CONSUMPTION]),
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
    start, end = user_input.get(CONF_QUIET_START), user_input.get(CONF_QUIET_END)
    if start and end:
        if minute_of_day(start) == minute_of_day(end):
            errors[CONF_QUIET_END] = "quiet_empty"
        options |= {CONF_QUIET_START: start, CONF_QUIET_END: end}
    elif start or end:
        errors[CONF_QUIET_END if start else CONF_QUIET_START] = "quiet_incomplete"
    return options, errors, placeholders
