"""What a loaded config entry holds while it runs, and the node's test hooks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from market.gossip import GossipConfig
from market.node.clock import Clock

from .const import DOMAIN
from .meter import TicMeterHub

if TYPE_CHECKING:
    from .market_hub import MarketHub


@dataclass(slots=True)
class P2PEnergyRuntime:
    """The running household node of one config entry."""

    node_name: str
    data_dir: Path
    engine_version: str
    market: MarketHub
    meter: TicMeterHub | None = None
    # The data and options the node was started with (a change must restart it).
    started_data: Mapping[str, Any] = field(default_factory=dict)
    started_options: Mapping[str, Any] = field(default_factory=dict)


type P2PEnergyConfigEntry = ConfigEntry[P2PEnergyRuntime]


def node_path(hass: HomeAssistant, node_dir: str) -> Path:
    """Where the node named `node_dir` (an entry's CONF_NODE_DIR) keeps its key,
    community and ledger: the flow creates it there, set-up opens it there."""
    return Path(hass.config.path(".storage", DOMAIN, node_dir))


@dataclass(slots=True)
class NodeHooks:
    """How an entry's node is built, for tests and demos only.

    Home Assistant runs the node on the wall clock (or on `ENV_SIM_CLOCK`); a test that
    steps a neighbourhood in lockstep sets `clock_factory` to return its shared
    `ManualClock`, and may shorten the gossip timings, then resets both afterwards:

        monkeypatch.setattr(runtime.NODE_HOOKS, "clock_factory", lambda: clock)
    """

    clock_factory: Callable[[], Clock] | None = None
    gossip: GossipConfig | None = None
    host: str = "0.0.0.0"  # noqa: S104 - the node serves its LAN neighbours


NODE_HOOKS = NodeHooks()
