"""Constants of the P2P Energy Market integration."""

from typing import Final

DOMAIN: Final = "p2p_energy"

CONF_NODE_NAME: Final = "node_name"

# Where the household's meter readings come from.
CONF_METER_SOURCE: Final = "meter_source"
METER_SOURCE_TIC: Final = "tic"
METER_SOURCE_ENTITIES: Final = "entities"

# A Linky TIC dongle.
CONF_SERIAL_PORT: Final = "serial_port"
CONF_MANUAL_PATH: Final = "manual_path"
CONF_TIC_MODE: Final = "tic_mode"
CONF_METER_ADDRESS: Final = "meter_address"
TIC_MODES: Final = ("auto", "historic", "standard")
TIC_PROBE_TIMEOUT_S: Final = 12.0

# Existing Home Assistant entities instead of a dongle.
CONF_IMPORT_ENERGY: Final = "import_energy_entity"
CONF_EXPORT_ENERGY: Final = "export_energy_entity"
CONF_IMPORT_POWER: Final = "import_power_entity"
CONF_EXPORT_POWER: Final = "export_power_entity"
CONF_PV_ENERGY: Final = "pv_energy_entity"
CONF_PV_POWER: Final = "pv_power_entity"
METER_ENTITY_KEYS: Final = (
    CONF_IMPORT_ENERGY,
    CONF_EXPORT_ENERGY,
    CONF_IMPORT_POWER,
    CONF_EXPORT_POWER,
    CONF_PV_ENERGY,
    CONF_PV_POWER,
)

# Options.
CONF_UPDATE_INTERVAL: Final = "update_interval"
DEFAULT_UPDATE_INTERVAL_S: Final = 10
