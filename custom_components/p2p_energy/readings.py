"""The household's grid connection, sampled once for the agents and for the entities.

`HouseholdReadings` follows the entry's meter: the Linky's published snapshots, or the
import and export power entities a household already has. It keeps the agents' recent
readings (the node's observation source) and, for the entities source, the latest
surplus (export - import) that the *Surplus power* sensor shows.

What the node signs as slot readings comes from one source, decided here: the Linky's
indexes; else the energy sensors the user picked (energy_sensors.py); else, estimated,
the power entities. A PV energy sensor is read with any of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfPower,
)
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.unit_conversion import PowerConverter

from market.agents import Observation, Reading
from market.meter.snapshot import MeterSnapshot
from market.node.clock import Clock
from market.node.metering import MeterInputs
from market.node.readings import reading_from_meter

from .const import CONF_EXPORT_POWER, CONF_IMPORT_POWER, CONF_METER_SOURCE, METER_SOURCE_ENTITIES
from .energy_sensors import EnergySensors
from .meter import TicMeterHub
from .solar_forecast import SolarForecast

# Readings kept for the PV seller's persistence forecast (it averages the last 15 min).
READINGS_KEPT: Final = 256
READINGS_WINDOW_S: Final = 1800
# The solar forecast handed to the agents: the slot under way and the next 2 hours.
PV_FORECAST_SLOTS: Final = 9

type ReadingsListener = Callable[[], None]


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


class HouseholdReadings:
    """The meter readings of one household: the agents' window and the surplus."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        meter: TicMeterHub | None,
        clock: Clock,
        node: MeterInputs | None = None,
        *,
        slot_s: int = 900,
    ) -> None:
        """Read `meter` (a Linky), or the entry's power entities; nothing is followed
        before `async_start`. `node` is given the samples it signs slot readings from:
        the Linky's energy indexes, else the energy sensors', else the entities' power
        (estimated readings); and the PV sensor's production."""
        self.hass = hass
        self.meter = meter
        self.clock = clock
        self._node = node
        self._slot_s = slot_s
        self.solar = SolarForecast(hass, lambda: clock.now_ms() // 1000)
        self.from_entities = entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_ENTITIES
        # Import is required, export optional (None: nothing is exported).
        self._import_id: str | None = entry.data.get(CONF_IMPORT_POWER)
        self._export_id: str | None = entry.data.get(CONF_EXPORT_POWER)
        # Export minus import, W, from the entities' latest sample; None when unknown.
        self.surplus_w: float | None = None
        self._readings: deque[Reading] = deque(maxlen=READINGS_KEPT)
        self._listeners: list[ReadingsListener] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        # With a Linky its indexes win: only the PV sensor is read then.
        self.energy = (
            None
            if node is None
            else EnergySensors(hass, entry, clock, node, grid=meter is None and self.from_entities)
        )

    def __len__(self) -> int:
        """How many readings are kept."""
        return len(self._readings)

    @callback
    def async_start(self) -> None:
        """Follow the meter's snapshots, or the power entities' state changes."""
        if self.meter is not None:
            self._unsubscribe.append(self.meter.async_add_listener(self._on_snapshot))
            self._unsubscribe.append(self.meter.async_add_frame_listener(self._on_frame))
        elif self.from_entities:
            sources = [entity for entity in (self._import_id, self._export_id) if entity]
            if sources:
                self._unsubscribe.append(
                    async_track_state_change_event(self.hass, sources, self._on_power_change)
                )
        if self.energy is not None:
            self.energy.async_start()
        self.solar.async_start()

    @callback
    def async_stop(self) -> None:
        """Stop following the meter."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        if self.energy is not None:
            self.energy.async_stop()
        self.solar.async_stop()

    @callback
    def async_add_listener(self, listener: ReadingsListener) -> CALLBACK_TYPE:
        """Call `listener` whenever a power entity changed the surplus' sample."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    def observe(self, now_s: int) -> Observation:
        """The agents' view of the household: the readings of the last 30 minutes, and
        the import the node expects in the coming slots from the readings it signed
        (the meter's import is after the household's own PV: the deficit to buy), and
        the solar forecast of the Energy dashboard, if it has one."""
        since = now_s - READINGS_WINDOW_S
        return Observation(
            readings=tuple(r for r in self._readings if since <= r.at <= now_s),
            demand=None if self._node is None else self._node.demand_forecast(now_s),
            pv_forecast=self.solar.slots(now_s, self._slot_s, PV_FORECAST_SLOTS),
        )

    @callback
    def sample(self) -> None:
        """Read the power entities now (the entities source only): the surplus, and a
        reading when both powers are known."""
        if not self.from_entities or not self._import_id:
            return
        imported = power_w(self.hass, self._import_id)
        exported = power_w(self.hass, self._export_id)
        if imported is None or exported is None:
            self.surplus_w = None
            return
        self.surplus_w = exported - imported
        reading = Reading(
            at=self.clock.now_ms() // 1000,
            export_w=max(0, round(exported)),
            import_w=max(0, round(imported)),
        )
        self._readings.append(reading)
        if self._node is not None and not (self.energy is not None and self.energy.measures_grid):
            self._node.record_meter_power(
                reading.at, import_w=reading.import_w, export_w=reading.export_w
            )

    @callback
    def sample_indexes(self) -> None:
        """Read the energy sensors now (a slot boundary, the status refresh): an index
        that did not change is still heard."""
        if self.energy is not None:
            self.energy.sample()

    @callback
    def _on_snapshot(self, snapshot: MeterSnapshot) -> None:
        # the agents' window: one reading per published snapshot
        reading = reading_from_meter(snapshot, self.clock.now_ms() // 1000)
        if reading is not None:
            self._readings.append(reading)

    @callback
    def _on_frame(self, snapshot: MeterSnapshot) -> None:
        # the node's slot readings: every frame, so a boundary is heard at once
        if self._node is not None:
            self._node.record_meter_snapshot(self.clock.now_ms() // 1000, snapshot)

    @callback
    def _on_power_change(self, _event: Event[EventStateChangedData]) -> None:
        self.sample()
        for listener in list(self._listeners):
            listener()
