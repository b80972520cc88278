"""Binary sensors: energy bought from neighbours right now, and the Linky meter's flags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from market.meter.state import MeterState

from .entity import MarketEntity, MeterEntity
from .market_hub import MarketData
from .runtime import P2PEnergyConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MeterBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no read from the merged meter state."""

    value_fn: Callable[[MeterState], bool | None]


BINARY_SENSORS: tuple[MeterBinarySensorDescription, ...] = (
    # Published at once by the hub, whatever the update interval.
    MeterBinarySensorDescription(
        key="overcurrent",
        translation_key="overcurrent",
        device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=lambda s: s.overcurrent,
    ),
    MeterBinarySensorDescription(
        key="off_peak",
        translation_key="off_peak",
        value_fn=lambda s: s.off_peak,
    ),
)


class MeterBinarySensor(MeterEntity, BinarySensorEntity):
    """A yes/no the meter reports."""

    entity_description: MeterBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The value in the latest snapshot."""
        snapshot = self.snapshot
        if snapshot is None or snapshot.meter is None:
            return None
        return self.entity_description.value_fn(snapshot.meter)


@dataclass(frozen=True, kw_only=True)
class MarketBinarySensorDescription(BinarySensorEntityDescription):
    """A yes/no of the household's market."""

    value_fn: Callable[[MarketData], bool]
    attributes_fn: Callable[[MarketData], dict[str, Any]] | None = None


MARKET_BINARY_SENSORS: tuple[MarketBinarySensorDescription, ...] = (
    # On while the slot being delivered has energy bought from neighbours (the EV
    # blueprint charges on it).
    MarketBinarySensorDescription(
        key="bought_now",
        translation_key="bought_now",
        value_fn=lambda data: data.current_trade.bought_wh > 0,
        # who bought the slot's energy (an agent id, "action" or "automation"), in Wh
        attributes_fn=lambda data: {
            "bought_wh": data.current_trade.bought_wh,
            "bought_by": dict(data.current_trade.bought_by),
        },
    ),
)


class MarketBinarySensor(MarketEntity, BinarySensorEntity):
    """A yes/no of the household's market."""

    entity_description: MarketBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """The value in the hub's latest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details of the current value, when the sensor has any."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self.coordinator.data)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: P2PEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the market's binary sensors, and the meter's (a TIC dongle only)."""
    runtime = entry.runtime_data
    async_add_entities(MarketBinarySensor(runtime.market, d) for d in MARKET_BINARY_SENSORS)
    if runtime.meter is not None:
        async_add_entities(MeterBinarySensor(entry, runtime.meter, d) for d in BINARY_SENSORS)
