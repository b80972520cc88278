"""Switches: let each of the household's agents trade, or take it off the market."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import MarketEntity
from .household_agents import AGENT_OPTIONS
from .market_hub import MarketHub
from .runtime import P2PEnergyConfigEntry

PARALLEL_UPDATES = 0

AGENT_SWITCHES: tuple[SwitchEntityDescription, ...] = tuple(
    SwitchEntityDescription(
        key=agent_id, translation_key=agent_id, entity_category=EntityCategory.CONFIG
    )
    for agent_id in AGENT_OPTIONS
)


class AgentSwitch(MarketEntity, SwitchEntity):
    """An agent of the household: on, it trades; off, its open orders are cancelled.

    The choice is kept in the entry's options, so it survives a restart.
    """

    def __init__(
        self, hub: MarketHub, entry: P2PEnergyConfigEntry, description: SwitchEntityDescription
    ) -> None:
        """Switch the agent named by the description's key."""
        super().__init__(hub, description)
        self.entry = entry

    @property
    def is_on(self) -> bool:
        """Whether the agent trades (in the hub's latest snapshot)."""
        return self.coordinator.data.agents[self.entity_description.key]

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Let the agent trade from now on."""
        await self._set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Stop the agent and cancel its open orders."""
        await self._set(False)

    async def _set(self, enabled: bool) -> None:
        agent_id = self.entity_description.key
        await self.coordinator.agents.async_set_enabled(agent_id, enabled)
        option = AGENT_OPTIONS[agent_id]
        if self.entry.options.get(option) != enabled:
            self.hass.config_entries.async_update_entry(
                self.entry, options={**self.entry.options, option: enabled}
            )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: P2PEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per agent the options describe."""
    hub = entry.runtime_data.market
    async_add_entities(AgentSwitch(hub, entry, description) for description in AGENT_SWITCHES)
