"""Removing an entry: the household leaves the community, then its data is deleted.

Home Assistant asks the user to confirm a removal and unloads the entry (the node is
stopped) before `async_remove_entry`. The node is opened once more to sign the revoke
of its key and hand it to a neighbour; only once a neighbour holds it (or the node
knows no neighbour at all) are the key and the ledger deleted. Otherwise the data
directory is kept and the log says where: deleting it would lose the only copy of the
revoke, and the neighbours would go on counting the household.
"""

from __future__ import annotations

import logging
import shutil
from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from market.ledger.errors import LedgerError
from market.node import Node
from market.node.errors import NodeSetupError, OrderRejectedError

from .const import CONF_NODE_DIR
from .node_setup import async_node_config, node_clock
from .runtime import P2PEnergyConfigEntry, node_path

_LOGGER = logging.getLogger(__name__)

# How long a removal waits for a neighbour to hold the revoke.
CONFIRM_TIMEOUT_S: Final = 15.0


async def async_leave_and_forget(hass: HomeAssistant, entry: P2PEnergyConfigEntry) -> None:
    """Leave the community and delete the node's data directory once that is known."""
    data_dir = node_path(hass, entry.data[CONF_NODE_DIR])
    if not await hass.async_add_executor_job(data_dir.exists):
        return
    config = await async_node_config(hass, entry, data_dir)
    try:
        node = await Node.open(config, clock=node_clock(), session=async_get_clientsession(hass))
    except (NodeSetupError, LedgerError, OSError, ValueError) as err:
        _LOGGER.warning("kept %s: its node could not be opened to leave: %s", data_dir, err)
        return
    try:
        await node.start()
        gone = await _leave(node)
    finally:
        await node.stop()
    if not gone:
        _LOGGER.warning(
            "kept %s: no neighbour confirmed that this household left the community; "
            "start the node again (or remove the directory by hand) once one is reachable",
            data_dir,
        )
        return
    await hass.async_add_executor_job(shutil.rmtree, data_dir)
    _LOGGER.info("the household left the community; deleted its key and ledger %s", data_dir)


async def _leave(node: Node) -> bool:
    """Whether the data may go: the node left and a neighbour knows, or nobody could."""
    if not node.status().peers:
        return True  # nobody to tell: a community of one, or a node never in touch
    try:
        return await node.leave(confirm_timeout_s=CONFIRM_TIMEOUT_S)
    except OrderRejectedError as err:
        # already gone (left, removed, rotated away) or never admitted: nothing to sign
        return err.reason in {"revoked", "not_member", "not_admitted"}
