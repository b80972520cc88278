"""Constants of the P2P Energy Market integration."""

from typing import Final

DOMAIN: Final = "p2p_energy"

CONF_NODE_NAME: Final = "node_name"
