"""Binary sensors of the household's Linky meter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from market.meter.state import MeterState

from .entity import MeterEntity
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


async def async_setup_entry(
    hass: HomeAssistant,
    entry: P2PEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the meter's binary sensors (a TIC dongle only)."""
    hub = entry.runtime_data.meter
    if hub is not None:
        async_add_entities(MeterBinarySensor(entry, hub, d) for d in BINARY_SENSORS)
