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
# A USB dongle's identity (see serial_ports.dongle_id): its path may change, this does not.
CONF_DONGLE_ID: Final = "dongle_id"
CONF_MANUAL_PATH: Final = "manual_path"
CONF_TIC_MODE: Final = "tic_mode"
CONF_METER_ADDRESS: Final = "meter_address"
TIC_MODES: Final = ("auto", "historic", "standard")
TIC_PROBE_TIMEOUT_S: Final = 12.0

# Existing Home Assistant entities instead of a dongle: the grid power sensors the agents
# follow. Entries set up by 0.2.0 may also hold pv_power_entity, which nothing reads.
CONF_IMPORT_POWER: Final = "import_power_entity"
CONF_EXPORT_POWER: Final = "export_power_entity"
# Energy sensors (energy_sensors.py): the grid's import and export indexes, the meter's
# readings when there is no Linky, and the PV production, with any meter. Set-up stores
# them in the data (0.2.0 did too, unread), the options flow in the options, which win.
CONF_IMPORT_ENERGY: Final = "import_energy_entity"
CONF_EXPORT_ENERGY: Final = "export_energy_entity"
CONF_PV_ENERGY: Final = "pv_energy_entity"

# Options.
CONF_UPDATE_INTERVAL: Final = "update_interval"
DEFAULT_UPDATE_INTERVAL_S: Final = 10

# The market node of the entry.
CONF_NODE_DIR: Final = "node_dir"  # directory name under .storage/p2p_energy/
CONF_PORT: Final = "port"
DEFAULT_PORT: Final = 8765
CONF_COMMUNITY_ID: Final = "community_id"  # hex; also the entry's unique id
CONF_NODE_ID: Final = "node_id"  # hex public key of the node
CONF_PEERS: Final = "peers"  # "host:port" of neighbours on another network

# Options: what the household allows its agents (prices in ticks of 0.0001/kWh).
CONF_MAX_BUY_PRICE: Final = "max_buy_price"
CONF_MIN_SELL_PRICE: Final = "min_sell_price"
CONF_SELL_SURPLUS: Final = "sell_surplus"
CONF_FLEXIBLE_LOAD: Final = "flexible_load"
CONF_FLEXIBLE_LOAD_W: Final = "flexible_load_w"
CONF_MAX_IMPORT_W: Final = "max_import_w"
CONF_MAX_EXPORT_W: Final = "max_export_w"
# The household's grid contract (market.tariff presets), or "auto": the one the Linky
# names. Bids never exceed its import price of the slot, asks never go below feed-in.
CONF_TARIFF: Final = "tariff"
TARIFF_AUTO: Final = "auto"
DEFAULT_SELL_SURPLUS: Final = True
DEFAULT_FLEXIBLE_LOAD: Final = False
DEFAULT_FLEXIBLE_LOAD_W: Final = 2000
DEFAULT_MAX_IMPORT_W: Final = 9000
DEFAULT_MAX_EXPORT_W: Final = 6000
# The household's "don't trade" hours (local "HH:MM:SS", as a time selector gives them):
# no agent has an order for a slot that meets them. Both or neither; start == end refused.
CONF_QUIET_START: Final = "quiet_start"
CONF_QUIET_END: Final = "quiet_end"
# The consumption buyer: bids the household's expected import, learned from its readings.
CONF_BUY_CONSUMPTION: Final = "buy_consumption"
DEFAULT_BUY_CONSUMPTION: Final = True

# Config flow fields that are not stored as such.
CONF_COMMUNITY_NAME: Final = "community_name"
CONF_SLOT_MINUTES: Final = "slot_minutes"
SLOT_MINUTES: Final = (15, 30, 60)
CONF_FLOOR_PRICE: Final = "floor_price"  # currency/kWh, stored in the terms as ticks
CONF_CEILING_PRICE: Final = "ceiling_price"
CONF_INVITE: Final = "invite_code"

# Demo and end-to-end tests only: run the node on an accelerated clock shared with
# headless nodes ("START_S:ANCHOR_S:SPEED", see market.node.clock.ScaledClock).
ENV_SIM_CLOCK: Final = "P2P_ENERGY_SIM_CLOCK"

# The `source` of orders placed by the order actions, beside the agents' ids: a person
# ran the action (it has a user) or an automation or script did (it has none).
SOURCE_ACTION: Final = "action"
SOURCE_AUTOMATION: Final = "automation"
