"""Sensors: the household's market (node and community) and its Linky meter (or the
surplus derived from other entities)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

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
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.helpers.typing import StateType

from market.meter.snapshot import MeterSnapshot
from market.meter.state import (
    DISTRIBUTOR_INDEX_LABELS,
    HISTORIC_INDEX_LABELS,
    SUPPLIER_INDEX_LABELS,
    MeterState,
)
from market.meter.stge import TempoColour
from market.units import to_kwh, to_money, to_price

from .const import CONF_METER_SOURCE, METER_SOURCE_ENTITIES
from .entity import MarketEntity, MeterEntity
from .ev_schedule import ev_schedule_data
from .market_hub import AGENT_EV, MarketHub
from .meter import TicMeterHub
from .runtime import P2PEnergyConfigEntry
from .surplus import SurplusFromEntitiesSensor
from .trades import slot_datetime

# Entities are written by the hub's push callbacks, never polled.
PARALLEL_UPDATES = 0

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


# ---------------------------------------------------------------------- the market


@dataclass(frozen=True, kw_only=True)
class MarketSensorDescription(SensorEntityDescription):
    """A value of the node or of its community, read from the hub."""

    value_fn: Callable[[MarketHub], StateType | datetime]
    attributes_fn: Callable[[MarketHub], dict[str, Any] | None] | None = None
    community: bool = False
    # A unit holding the community's currency, e.g. "{currency}/kWh".
    currency_unit: str | None = None


def _status[T](read: Callable[[Any], T]) -> Callable[[MarketHub], T | None]:
    return lambda hub: None if hub.status is None else read(hub.status)


def _last_price(hub: MarketHub) -> float | None:
    return None if hub.last_price is None else to_price(hub.last_price)


def _open_orders(hub: MarketHub) -> dict[str, Any]:
    return {
        "orders": [
            {
                "order_id": order.order_id,
                "slot_start": slot_datetime(order.slot).isoformat(),
                "side": str(order.side),
                "energy_kwh": to_kwh(order.energy_wh),
                "price": to_price(order.price),
                "source": order.source,
            }
            for order in hub.node.open_orders()
        ]
    }


def _ev_schedule(hub: MarketHub) -> dict[str, Any] | None:
    schedule = hub.schedules.get(AGENT_EV)
    return None if schedule is None else ev_schedule_data(schedule, hub.terms.slot_s)


def _slot_energy(key: str, value_fn: Callable[[MarketHub], int]) -> MarketSensorDescription:
    # What the current delivery slot carries: no state class, it is not a counter.
    return MarketSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        value_fn=value_fn,
    )


MARKET_SENSORS: tuple[MarketSensorDescription, ...] = (
    MarketSensorDescription(
        key="members",
        translation_key="members",
        state_class=SensorStateClass.MEASUREMENT,
        community=True,
        value_fn=_status(lambda status: status.members),
    ),
    MarketSensorDescription(
        key="peers_online",
        translation_key="peers_online",
        state_class=SensorStateClass.MEASUREMENT,
        community=True,
        value_fn=_status(lambda status: status.peers_online),
    ),
    MarketSensorDescription(
        key="ledger_entries",
        translation_key="ledger_entries",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        community=True,
        value_fn=_status(lambda status: status.ledger_entries),
    ),
    MarketSensorDescription(
        key="last_sync",
        translation_key="last_sync",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        community=True,
        value_fn=lambda hub: hub.last_sync,
    ),
    MarketSensorDescription(
        # A price, not an amount of money: no monetary device class (like Nord Pool's).
        key="clearing_price",
        translation_key="clearing_price",
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=4,
        currency_unit="{currency}/kWh",
        community=True,
        value_fn=_last_price,
    ),
    _slot_energy("energy_bought_slot", lambda hub: hub.current_trade.bought_wh),
    _slot_energy("energy_sold_slot", lambda hub: hub.current_trade.sold_wh),
    MarketSensorDescription(
        key="open_orders",
        translation_key="open_orders",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda hub: len(hub.node.open_orders()),
        attributes_fn=_open_orders,
    ),
    MarketSensorDescription(
        key="ev_schedule",
        translation_key="ev_schedule",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda hub: hub.next_charging_slot(),
        attributes_fn=_ev_schedule,
    ),
    MarketSensorDescription(
        key="clock_skew",
        translation_key="clock_skew",
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        suggested_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_status(lambda status: status.clock_skew_ms),
    ),
)


class MarketSensor(MarketEntity, SensorEntity):
    """A value of the node or of its community."""

    entity_description: MarketSensorDescription
    # Long lists for automations and cards, not for the recorder.
    _unrecorded_attributes = frozenset({"orders", "slots"})

    def __init__(
        self, hub: MarketHub, description: MarketSensorDescription, *, community: bool
    ) -> None:
        """Describe the sensor; a price's unit holds the community's currency."""
        super().__init__(hub, description, community=community)
        if description.currency_unit is not None:
            self._attr_native_unit_of_measurement = description.currency_unit.format(
                currency=hub.currency
            )

    @property
    def native_value(self) -> StateType | datetime:
        """The hub's current value."""
        return self.entity_description.value_fn(self.hub)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details for automations (the open orders, the EV schedule's slots)."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.hub)


@dataclass(frozen=True, kw_only=True)
class DailyTotalDescription(SensorEntityDescription):
    """A total of the slots delivered since local midnight (a `DayTotals` key)."""

    total_key: str
    to_native: Callable[[int], float | int]


DAILY_TOTAL_SENSORS: tuple[DailyTotalDescription, ...] = (
    *(
        DailyTotalDescription(
            key=key,
            translation_key=key,
            device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL,
            native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
            suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            suggested_display_precision=3,
            total_key=total_key,
            to_native=int,
        )
        for key, total_key in (
            ("energy_bought_today", "bought_wh"),
            ("energy_sold_today", "sold_wh"),
        )
    ),
    *(
        DailyTotalDescription(
            key=key,
            translation_key=key,
            device_class=SensorDeviceClass.MONETARY,
            state_class=SensorStateClass.TOTAL,
            suggested_display_precision=2,
            total_key=total_key,
            to_native=to_money,
        )
        for key, total_key in (
            ("money_spent_today", "spent"),
            ("money_earned_today", "earned"),
        )
    ),
)


@dataclass(frozen=True, slots=True)
class DailyTotalData(ExtraStoredData):
    """A day's total as an integer (Wh, or Wh x ticks), kept across restarts."""

    day: datetime
    value: int

    def as_dict(self) -> dict[str, Any]:
        """The stored form."""
        return {"day": self.day.isoformat(), "value": self.value}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Self | None:
        """The data stored by `as_dict`, None if it is not."""
        try:
            return cls(datetime.fromisoformat(raw["day"]), int(raw["value"]))
        except (KeyError, TypeError, ValueError):
            return None


class DailyTotalSensor(MarketEntity, SensorEntity, RestoreEntity):
    """Energy or money traded today; reset at local midnight (`last_reset`).

    The total is kept by the hub; after a restart the sensor hands it back what was
    counted earlier the same day.
    """

    entity_description: DailyTotalDescription

    def __init__(self, hub: MarketHub, description: DailyTotalDescription) -> None:
        """Describe the sensor; money is in the community's currency."""
        super().__init__(hub, description)
        if description.device_class is SensorDeviceClass.MONETARY:
            self._attr_native_unit_of_measurement = hub.currency

    @property
    def _raw(self) -> int:
        return self.hub.today.values[self.entity_description.total_key]

    @property
    def native_value(self) -> float | int:
        """Today's total."""
        return self.entity_description.to_native(self._raw)

    @property
    def last_reset(self) -> datetime:
        """Local midnight of the day counted."""
        return self.hub.today.start

    @property
    def extra_restore_state_data(self) -> DailyTotalData:
        """The integer total and its day, for the next start."""
        return DailyTotalData(self.hub.today.start, self._raw)

    async def async_added_to_hass(self) -> None:
        """Take back the total counted before a restart, if it is today's."""
        await super().async_added_to_hass()
        stored = await self.async_get_last_extra_data()
        if stored is None:
            return
        restored = DailyTotalData.from_dict(stored.as_dict())
        if restored is not None:
            self.hub.restore_today(self.entity_description.total_key, restored.day, restored.value)


# ---------------------------------------------------------------------- the meter


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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: P2PEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the market's sensors, then the meter's: value sensors appear with the labels
    the meter sends."""
    hub = entry.runtime_data.market
    async_add_entities(
        [
            *(MarketSensor(hub, d, community=d.community) for d in MARKET_SENSORS),
            *(DailyTotalSensor(hub, d) for d in DAILY_TOTAL_SENSORS),
        ]
    )
    if entry.data.get(CONF_METER_SOURCE) == METER_SOURCE_ENTITIES:
        async_add_entities([SurplusFromEntitiesSensor(entry)])
        return
    meter = entry.runtime_data.meter
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
