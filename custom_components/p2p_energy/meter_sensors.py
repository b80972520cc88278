"""The meter's sensors: the Linky's values and its dongle link (fed by `TicMeterHub`),
or the surplus derived from the household's own grid sensors (fed by the hub's
`HouseholdReadings`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
)
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from market.meter.snapshot import MeterSnapshot
from market.meter.state import (
    DISTRIBUTOR_INDEX_LABELS,
    HISTORIC_INDEX_LABELS,
    SUPPLIER_INDEX_LABELS,
    MeterState,
)
from market.meter.stge import TempoColour

from .const import CONF_METER_SOURCE, DOMAIN, METER_SOURCE_ENTITIES
from .entity import MeterEntity
from .meter import TicMeterHub
from .readings import HouseholdReadings
from .runtime import P2PEnergyConfigEntry

TEMPO_OPTIONS = [colour.name.lower() for colour in TempoColour]


@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription):
    """A sensor read from the merged meter state."""

    value_fn: Callable[[MeterState], StateType]


@dataclass(frozen=True, kw_only=True)
class HealthSensorDescription(SensorEntityDescription):
    """A diagnostic sensor of the dongle link itself, shown even while it is down."""

    value_fn: Callable[[MeterSnapshot], StateType]


def _energy(
    key: str,
    value_fn: Callable[[MeterState], int | None],
    *,
    translation_key: str,
    label: str | None = None,
) -> MeterSensorDescription:
    # Energy indexes feed the Energy dashboard: kWh, TOTAL_INCREASING, and never a
    # made-up value (a missing index is unknown, not 0).
    return MeterSensorDescription(
        key=key,
        translation_key=translation_key,
        translation_placeholders=None if label is None else {"label": label},
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        entity_registry_enabled_default=label is None,
        value_fn=value_fn,
    )


def _index(label: str) -> MeterSensorDescription:
    return _energy(
        f"index_{label.lower()}",
        lambda state: state.import_indexes_wh.get(label, state.distributor_indexes_wh.get(label)),
        translation_key="meter_index",
        label=label,
    )


def _phase(
    key: str,
    phase: int,
    device_class: SensorDeviceClass,
    unit: str,
    value_fn: Callable[[MeterState], tuple[int | None, int | None, int | None]],
) -> MeterSensorDescription:
    return MeterSensorDescription(
        key=f"{key}_l{phase + 1}",
        translation_key=f"{key}_phase",
        translation_placeholders={"phase": f"L{phase + 1}"},
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        value_fn=lambda state: value_fn(state)[phase],
    )


def _tempo(colour: TempoColour | None) -> str | None:
    return None if colour is None else colour.name.lower()


METER_SENSORS: tuple[MeterSensorDescription, ...] = (
    _energy("import_energy", lambda s: s.import_wh, translation_key="import_energy"),
    _energy("export_energy", lambda s: s.export_wh, translation_key="export_energy"),
    *(
        _index(label)
        for label in (*HISTORIC_INDEX_LABELS, *SUPPLIER_INDEX_LABELS, *DISTRIBUTOR_INDEX_LABELS)
    ),
    MeterSensorDescription(
        key="apparent_power",
        translation_key="apparent_power",
        device_class=SensorDeviceClass.APPARENT_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfApparentPower.VOLT_AMPERE,
        value_fn=lambda s: s.apparent_power_va,
    ),
    MeterSensorDescription(
        key="injected_power",
        translation_key="injected_power",
        device_class=SensorDeviceClass.APPARENT_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfApparentPower.VOLT_AMPERE,
        value_fn=lambda s: s.injected_power_va,
    ),
    MeterSensorDescription(
        # A Linky reports apparent power; PV injection runs at a power factor close to 1,
        # so VA are taken as W here (documented in the README).
        key="surplus_power",
        translation_key="surplus_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        value_fn=lambda s: s.surplus_power_va,
    ),
    MeterSensorDescription(
        key="max_power_today",
        translation_key="max_power_today",
        device_class=SensorDeviceClass.APPARENT_POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfApparentPower.VOLT_AMPERE,
        value_fn=lambda s: s.max_power_today_va,
        entity_registry_enabled_default=False,
    ),
    *(
        _phase(
            "current",
            n,
            SensorDeviceClass.CURRENT,
            UnitOfElectricCurrent.AMPERE,
            lambda s: s.currents_a,
        )
        for n in range(3)
    ),
    *(
        _phase(
            "voltage",
            n,
            SensorDeviceClass.VOLTAGE,
            UnitOfElectricPotential.VOLT,
            lambda s: s.voltages_v,
        )
        for n in range(3)
    ),
    MeterSensorDescription(
        key="tariff_period",
        translation_key="tariff_period",
        value_fn=lambda s: s.tariff_period,
    ),
    MeterSensorDescription(
        key="tariff_option",
        translation_key="tariff_option",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: s.tariff_option,
    ),
    MeterSensorDescription(
        key="tempo_today",
        translation_key="tempo_today",
        device_class=SensorDeviceClass.ENUM,
        options=TEMPO_OPTIONS,
        value_fn=lambda s: _tempo(s.tempo_today),
    ),
    MeterSensorDescription(
        key="tempo_tomorrow",
        translation_key="tempo_tomorrow",
        device_class=SensorDeviceClass.ENUM,
        options=TEMPO_OPTIONS,
        value_fn=lambda s: _tempo(s.tempo_tomorrow),
    ),
    MeterSensorDescription(
        key="reference_power",
        translation_key="reference_power",
        device_class=SensorDeviceClass.APPARENT_POWER,
        native_unit_of_measurement=UnitOfApparentPower.VOLT_AMPERE,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: None if s.reference_power_kva is None else s.reference_power_kva * 1000,
    ),
    MeterSensorDescription(
        key="cutoff_state",
        translation_key="cutoff_state",
        device_class=SensorDeviceClass.ENUM,
        options=[
            "closed",
            "open_overpower",
            "open_overvoltage",
            "open_remote",
            "open_overcurrent",
            "open_overheat_above_imax",
            "open_overheat_below_imax",
        ],
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda s: None if s.status is None else s.status.cutoff.name.lower(),
    ),
    MeterSensorDescription(
        key="status_register",
        translation_key="status_register",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda s: None if s.status is None else f"{s.status.raw:08X}",
    ),
)

HEALTH_SENSORS: tuple[HealthSensorDescription, ...] = (
    HealthSensorDescription(
        key="dongle_state",
        translation_key="dongle_state",
        device_class=SensorDeviceClass.ENUM,
        options=["connecting", "connected", "reconnecting", "stopped"],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda snap: snap.status.state.value,
    ),
    HealthSensorDescription(
        key="frames",
        translation_key="frames",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda snap: snap.counters.frames,
    ),
    HealthSensorDescription(
        key="bad_datasets",
        translation_key="bad_datasets",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda snap: snap.counters.datasets_bad_total,
    ),
)


class MeterSensor(MeterEntity, SensorEntity):
    """A value the meter reports."""

    entity_description: MeterSensorDescription

    @property
    def native_value(self) -> StateType:
        """The value in the latest snapshot."""
        snapshot = self.snapshot
        if snapshot is None or snapshot.meter is None:
            return None
        return self.entity_description.value_fn(snapshot.meter)


class HealthSensor(MeterEntity, SensorEntity):
    """How the link to the dongle is doing."""

    entity_description: HealthSensorDescription

    @property
    def available(self) -> bool:
        """Known as soon as the reader reported anything, even a failure."""
        return self.snapshot is not None

    @property
    def native_value(self) -> StateType:
        """The value in the latest snapshot."""
        snapshot = self.snapshot
        return None if snapshot is None else self.entity_description.value_fn(snapshot)


class SurplusFromEntitiesSensor(SensorEntity):
    """Export power minus import power, from the household's own grid sensors.

    The hub's readings sample the two entities (for the agents too); this sensor shows
    their latest surplus, unavailable while either power is unknown.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "surplus_power"
    _attr_device_class = SensorDeviceClass.POWER
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_native_unit_of_measurement = UnitOfPower.WATT

    def __init__(self, entry: P2PEnergyConfigEntry, readings: HouseholdReadings) -> None:
        """Show the surplus `readings` sample from the entry's power entities."""
        self.readings = readings
        self._attr_unique_id = f"{entry.entry_id}_surplus_power"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"meter_{entry.entry_id}")},
            name="Grid meter",
        )

    @property
    def available(self) -> bool:
        """Known while both powers are."""
        return self.readings.surplus_w is not None

    @property
    def native_value(self) -> int | None:
        """The latest surplus, W."""
        surplus = self.readings.surplus_w
        return None if surplus is None else round(surplus)

    async def async_added_to_hass(self) -> None:
        """Follow the samples taken when a power entity changes."""
        await super().async_added_to_hass()
        self.async_on_remove(self.readings.async_add_listener(self.async_write_ha_state))


@callback
def async_add_meter_sensors(
    entry: P2PEnergyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the meter's sensors: the surplus of the household's grid sensors, or the
    dongle's health and, as the meter sends their labels, its values."""
    runtime = entry.runtime_data
    if entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_ENTITIES:
        async_add_entities([SurplusFromEntitiesSensor(entry, runtime.market.readings)])
        return
    meter = runtime.meter
    if meter is None:
        return
    async_add_entities(HealthSensor(entry, meter, d) for d in HEALTH_SENSORS)
    _add_when_seen(entry, meter, async_add_entities)


def _add_when_seen(
    entry: P2PEnergyConfigEntry,
    hub: TicMeterHub,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    # Which labels a meter sends depends on its mode, tariff and phases: create the
    # sensors for what it actually sends, as soon as it has said it.
    added: set[str] = set()

    @callback
    def on_snapshot(snapshot: MeterSnapshot) -> None:
        state = snapshot.meter
        if state is None:
            return
        # A sensor exists once the meter has said its value at least once.
        new = [d for d in METER_SENSORS if d.key not in added and d.value_fn(state) is not None]
        if new:
            added.update(d.key for d in new)
            async_add_entities(MeterSensor(entry, hub, d) for d in new)

    entry.async_on_unload(hub.async_add_listener(on_snapshot))
