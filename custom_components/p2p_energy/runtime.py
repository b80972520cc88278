"""What a loaded config entry holds while it runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homeassistant.config_entries import ConfigEntry

from .meter import TicMeterHub


@dataclass(slots=True)
class P2PEnergyRuntime:
    """The running household node of one config entry."""

    node_name: str
    data_dir: Path
    engine_version: str
    meter: TicMeterHub | None = None


type P2PEnergyConfigEntry = ConfigEntry[P2PEnergyRuntime]
