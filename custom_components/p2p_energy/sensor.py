"""Sensors: the household's market (node and community), then its meter's
(`meter_sensors`: the Linky, or the surplus derived from other entities)."""

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
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfEnergy, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.helpers.typing import StateType

from market.units import to_kwh, to_money, to_price

from .entity import MarketEntity
from .ev_schedule import ev_schedule_data
from .market_hub import MarketData, MarketHub
from .meter_sensors import async_add_meter_sensors
from .runtime import P2PEnergyConfigEntry
from .settlements import SettlementStatus
from .statement_sensors import STATEMENT_SENSORS, StatementSensor
from .trades import slot_datetime

# Entities are written by the hubs' push callbacks, never polled.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MarketSensorDescription(SensorEntityDescription):
    """A value of the node or of its community, read from the hub's snapshot."""

    value_fn: Callable[[MarketData], StateType | datetime]
    attributes_fn: Callable[[MarketData], dict[str, Any] | None] | None = None
    community: bool = False
    # A unit holding the community's currency, e.g. "{currency}/kWh".
    currency_unit: str | None = None


def _status[T](read: Callable[[Any], T]) -> Callable[[MarketData], T | None]:
    return lambda data: None if data.status is None else read(data.status)


def _last_price(data: MarketData) -> float | None:
    return None if data.last_price is None else to_price(data.last_price)


def _open_orders(data: MarketData) -> dict[str, Any]:
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
            for order in data.open_orders
        ]
    }


def _ev_schedule(data: MarketData) -> dict[str, Any] | None:
    schedule = data.ev_schedule
    return None if schedule is None else ev_schedule_data(schedule, data.slot_s)


def _settlement_status(data: MarketData) -> str | None:
    return None if data.settlement is None else data.settlement.status.value


def _settlement_slots(data: MarketData) -> dict[str, Any] | None:
    health = data.settlement
    if health is None:
        return None
    return {"disputed_slots": len(health.disputed), "unmeasured_slots": len(health.unmeasured)}


def _next_surplus(data: MarketData) -> int | None:
    return data.surplus[0].unmatched_sell_wh if data.surplus else None


def _surplus_slots(data: MarketData) -> dict[str, Any] | None:
    if not data.surplus:
        return None
    return {
        "slot_start": slot_datetime(data.surplus[0].slot).isoformat(),
        "slots": [
            {
                "slot_start": slot_datetime(slot.slot).isoformat(),
                "unmatched_kwh": to_kwh(slot.unmatched_sell_wh),
                "sell_kwh": to_kwh(slot.total_sell_wh),
                "buy_kwh": to_kwh(slot.total_buy_wh),
                "price": None if slot.price is None else to_price(slot.price),
            }
            for slot in data.surplus
        ],
    }


def _slot_energy(key: str, value_fn: Callable[[MarketData], int]) -> MarketSensorDescription:
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
        value_fn=lambda data: data.last_sync,
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
    _slot_energy("energy_bought_slot", lambda data: data.current_trade.bought_wh),
    _slot_energy("energy_sold_slot", lambda data: data.current_trade.sold_wh),
    MarketSensorDescription(
        # The next open slot's asks that no bid would take if its book cleared now: a
        # forecast the book may change until the gate closes, so no state class.
        key="community_surplus",
        translation_key="community_surplus",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        community=True,
        value_fn=_next_surplus,
        attributes_fn=_surplus_slots,
    ),
    MarketSensorDescription(
        key="open_orders",
        translation_key="open_orders",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: len(data.open_orders),
        attributes_fn=_open_orders,
    ),
    MarketSensorDescription(
        key="ev_schedule",
        translation_key="ev_schedule",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda data: data.next_charging_slot,
        attributes_fn=_ev_schedule,
    ),
    MarketSensorDescription(
        key="ev_charging_current",
        translation_key="ev_charging_current",
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        value_fn=lambda data: data.ev_current_a,
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
    MarketSensorDescription(
        # ok, or what needs attention in the last 24 h (settlements.SettlementHealth)
        key="settlement_status",
        translation_key="settlement_status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value for status in SettlementStatus],
        value_fn=_settlement_status,
        attributes_fn=_settlement_slots,
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
        """The value in the hub's latest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details for automations (the open orders, the EV schedule's and the surplus'
        slots)."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.coordinator.data)


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
        return self.coordinator.data.today[self.entity_description.total_key]

    @property
    def native_value(self) -> float | int:
        """Today's total."""
        return self.entity_description.to_native(self._raw)

    @property
    def last_reset(self) -> datetime:
        """Local midnight of the day counted."""
        return self.coordinator.data.today_start

    @property
    def extra_restore_state_data(self) -> DailyTotalData:
        """The integer total and its day, for the next start."""
        return DailyTotalData(self.coordinator.data.today_start, self._raw)

    async def async_added_to_hass(self) -> None:
        """Take back the total counted before a restart, if it is today's."""
        await super().async_added_to_hass()
        stored = await self.async_get_last_extra_data()
        if stored is None:
            return
        restored = DailyTotalData.from_dict(stored.as_dict())
        if restored is not None:
            self.coordinator.restore_today(
                self.entity_description.total_key, restored.day, restored.value
            )


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
            *(StatementSensor(hub, d) for d in STATEMENT_SENSORS),
        ]
    )
    async_add_meter_sensors(entry, async_add_entities)
