"""Surplus power derived from grid sensors a household already has (no Linky dongle)."""

from __future__ import annotations

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfPower,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.unit_conversion import PowerConverter

from .const import CONF_EXPORT_POWER, CONF_IMPORT_POWER, DOMAIN
from .runtime import P2PEnergyConfigEntry


def power_w(hass: HomeAssistant, entity_id: str | None) -> float | None:
    """The power an entity reports, in W; None when it is unknown or not a power."""
    if entity_id is None:
        return 0.0
    state = hass.states.get(entity_id)
    if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT, UnitOfPower.WATT)
    if unit not in PowerConverter.VALID_UNITS:
        return None
    return PowerConverter.convert(value, unit, UnitOfPower.WATT)


class SurplusFromEntitiesSensor(SensorEntity):
    """Export power minus import power, from the household's own grid sensors."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "surplus_power"
    _attr_device_class = SensorDeviceClass.POWER
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = UnitOfPower.WATT

    def __init__(self, entry: P2PEnergyConfigEntry) -> None:
        """Follow the import (required) and export (optional) power entities."""
        self._import: str | None = entry.data.get(CONF_IMPORT_POWER)
        self._export: str | None = entry.data.get(CONF_EXPORT_POWER)
        self._attr_unique_id = f"{entry.entry_id}_surplus_power"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"meter_{entry.entry_id}")},
            name="Grid meter",
        )

    async def async_added_to_hass(self) -> None:
        """Recompute whenever a source changes."""
        sources = [e for e in (self._import, self._export) if e]
        if sources:
            self.async_on_remove(
                async_track_state_change_event(self.hass, sources, self._on_source_change)
            )
        self._update()

    @callback
    def _on_source_change(self, _event: Event[EventStateChangedData]) -> None:
        self._update()
        self.async_write_ha_state()

    def _update(self) -> None:
        imported = power_w(self.hass, self._import) if self._import else None
        exported = power_w(self.hass, self._export)
        if imported is None or exported is None:
            self._attr_available = False
            self._attr_native_value = None
            return
        self._attr_available = True
        self._attr_native_value = round(exported - imported)
