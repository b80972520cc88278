"""Base entities: the Linky meter's device, the node's and the community's; values are
pushed by the meter hub and by the market hub (a push coordinator)."""

from __future__ import annotations

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from market.meter.snapshot import MeterSnapshot

from .const import CONF_METER_ADDRESS, DOMAIN
from .market_hub import MarketHub
from .meter import TicMeterHub
from .runtime import P2PEnergyConfigEntry


def meter_identity(entry: P2PEnergyConfigEntry) -> str:
    """A stable id for the household's meter: its own address, else the entry's id."""
    address: str | None = entry.data.get(CONF_METER_ADDRESS)
    return address or entry.entry_id


class MeterEntity(Entity):
    """An entity fed by the household's Linky meter."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, entry: P2PEnergyConfigEntry, hub: TicMeterHub, description: EntityDescription
    ) -> None:
        """Describe the entity; its values come from the hub's snapshots."""
        self.entity_description = description
        self.hub = hub
        identity = meter_identity(entry)
        self._attr_unique_id = f"{identity}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"meter_{identity}")},
            manufacturer="Enedis",
            model="Linky",
            name="Linky",
        )

    @property
    def snapshot(self) -> MeterSnapshot | None:
        """The latest snapshot the hub published."""
        return self.hub.snapshot

    @property
    def available(self) -> bool:
        """Values are only shown while the dongle delivers frames."""
        snapshot = self.snapshot
        return snapshot is not None and snapshot.available

    async def async_added_to_hass(self) -> None:
        """Follow the hub's snapshots."""
        await super().async_added_to_hass()
        self.async_on_remove(self.hub.async_add_listener(self._on_snapshot))

    @callback
    def _on_snapshot(self, _snapshot: MeterSnapshot) -> None:
        self.async_write_ha_state()


class MarketEntity(CoordinatorEntity[MarketHub]):
    """An entity of the household's node, or of its community: it shows the hub's
    latest `MarketData` (`self.coordinator.data`)."""

    _attr_has_entity_name = True

    def __init__(
        self, hub: MarketHub, description: EntityDescription, *, community: bool = False
    ) -> None:
        """Describe the entity on the node's device, or on the community's."""
        super().__init__(hub)
        self.entity_description = description
        owner = hub.community_id if community else hub.node_id
        self._attr_unique_id = f"{owner}_{description.key}"
        self._attr_device_info = hub.community_device if community else hub.node_device
