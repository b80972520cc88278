"""The energy sensors a household already has, handed to its node as meter indexes
(docs/settlement.md, "Readings").

An import energy sensor (with an export one, if there is one) makes the existing-sensors
source measured rather than estimated: the node signs each slot's index deltas instead
of integrating the power entities. A PV production sensor, with any meter, gives the
household's own statements its production (never signed or gossiped). A Linky's own
indexes beat the grid sensors: with the TIC source only the PV sensor is read.

Each index is sampled when one of the sensors changes and, by the node's clock, at each
slot boundary: the node takes a boundary from the first sample at or after it (within
120 s), so a sensor that did not change is still heard there. An unknown or unavailable
sensor is not sampled: the node counts the boundaries it missed as gaps.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Final

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfEnergy,
)
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.unit_conversion import EnergyConverter

from market.node.clock import Clock
from market.node.metering import MeterInputs

from .const import CONF_EXPORT_ENERGY, CONF_IMPORT_ENERGY, CONF_PV_ENERGY

# The grid's indexes (the existing-sensors source only), then the PV production.
GRID_ENERGY_KEYS: Final = (CONF_IMPORT_ENERGY, CONF_EXPORT_ENERGY)
ENERGY_KEYS: Final = (*GRID_ENERGY_KEYS, CONF_PV_ENERGY)
# An index counts up (total_increasing) or says when it restarted (total); a
# measurement is a rate, not an index.
INDEX_STATE_CLASSES: Final = frozenset({SensorStateClass.TOTAL_INCREASING, SensorStateClass.TOTAL})
# A state beyond 10^15 (Wh, or 10^18 Wh in kWh) is no household's index: refused before
# it is scaled, so that a bogus "1e999999" costs nothing.
MAX_EXPONENT: Final = 15


def entry_sensor(entry: ConfigEntry, key: str) -> str | None:
    """The energy sensor an entry names under `key`: the options' once the options flow
    saved one (None there: the user cleared it), else the set-up's (0.2.0 entries
    included, which stored them without reading them)."""
    value = entry.options[key] if key in entry.options else entry.data.get(key)
    return value if isinstance(value, str) and value else None


def energy_wh(hass: HomeAssistant, entity_id: str) -> int | None:
    """The index an energy sensor shows, in whole Wh (rounded down, never negative);
    None when it is unknown, unavailable, not a number or not in an energy unit."""
    state = hass.states.get(entity_id)
    if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return None
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit not in EnergyConverter.VALID_UNITS:
        return None
    try:
        value = Decimal(state.state)
    except InvalidOperation:
        return None
    if not value.is_finite() or value.adjusted() > MAX_EXPONENT:
        return None
    # The state is scaled as the decimal it is written as: through a float, 1.001 kWh
    # is 1000.9999... Wh and would lose a whole Wh when rounded down.
    ratio = Decimal(format(EnergyConverter.convert(1.0, unit, UnitOfEnergy.WATT_HOUR), ".12g"))
    return max(0, int((value * ratio).to_integral_value(rounding=ROUND_FLOOR)))


def index_error(hass: HomeAssistant, entity_id: str) -> str | None:
    """The flows' error key for a picked sensor that is not an energy index (the
    selector only offers device class energy), or None; a sensor without a state yet is
    accepted, and read once it has one."""
    state = hass.states.get(entity_id)
    if state is None:
        return None
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if state.attributes.get(ATTR_STATE_CLASS) not in INDEX_STATE_CLASSES or (
        unit is not None and unit not in EnergyConverter.VALID_UNITS
    ):
        return "not_energy_index"
    return None


def energy_errors(hass: HomeAssistant, picked: dict[str, str | None]) -> dict[str, str]:
    """The flows' errors for the energy sensors picked (key -> entity id or None)."""
    errors = {
        key: error
        for key, entity_id in picked.items()
        if entity_id and (error := index_error(hass, entity_id)) is not None
    }
    # Export alone cannot make a reading: the slot's import would be invented.
    if picked.get(CONF_EXPORT_ENERGY) and not picked.get(CONF_IMPORT_ENERGY):
        errors.setdefault(CONF_EXPORT_ENERGY, "export_energy_without_import")
    return errors


class EnergySensors:
    """The energy sensors of one entry, sampled into its node."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        clock: Clock,
        node: MeterInputs,
        *,
        grid: bool,
    ) -> None:
        """Follow the entry's PV sensor and, when `grid` (no Linky), its grid indexes;
        nothing is followed before `async_start`."""
        self.hass = hass
        self.clock = clock
        self._node = node
        self.import_id = entry_sensor(entry, CONF_IMPORT_ENERGY) if grid else None
        # Export without import is refused by the flows; a stray one is not read.
        self.export_id = entry_sensor(entry, CONF_EXPORT_ENERGY) if self.import_id else None
        self.pv_id = entry_sensor(entry, CONF_PV_ENERGY)
        self._unsubscribe: CALLBACK_TYPE | None = None

    @property
    def measures_grid(self) -> bool:
        """Whether the node's readings come from these sensors' indexes."""
        return self.import_id is not None

    @callback
    def async_start(self) -> None:
        """Follow the sensors' state changes, and sample them once now."""
        sources = [entity for entity in (self.import_id, self.export_id, self.pv_id) if entity]
        if not sources:
            return
        self._unsubscribe = async_track_state_change_event(self.hass, sources, self._on_change)
        self.sample()

    @callback
    def async_stop(self) -> None:
        """Stop following the sensors."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @callback
    def sample(self) -> None:
        """Hand the node the indexes the sensors show now, by its clock: the grid's when
        both (or import alone, with no export sensor) are known, the PV's when known."""
        now_s = self.clock.now_ms() // 1000
        if self.import_id is not None:
            imported = energy_wh(self.hass, self.import_id)
            exported = 0 if self.export_id is None else energy_wh(self.hass, self.export_id)
            if imported is not None and exported is not None:
                self._node.record_meter_index(now_s, import_wh=imported, export_wh=exported)
        if self.pv_id is not None and (produced := energy_wh(self.hass, self.pv_id)) is not None:
            self._node.record_pv_index(now_s, energy_wh=produced)

    @callback
    def _on_change(self, _event: Event[EventStateChangedData]) -> None:
        self.sample()
