"""The diagnostics download never carries the household's identifiers."""

from __future__ import annotations

import socket

from conftest import NodeDirs, TicLine, wait_until
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.p2p_energy.const import (
    CONF_MAX_BUY_PRICE,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    METER_SOURCE_TIC,
)


async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    tic_line: TicLine,
    node_dirs: NodeDirs,
) -> None:
    with socket.socket() as probe:  # a neighbour that is not there
        probe.bind(("127.0.0.1", 0))
        peer = f"127.0.0.1:{probe.getsockname()[1]}"
    entry = node_dirs.entry(
        title="12 rue des Lilas",
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: tic_line.url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
            CONF_PEERS: [peer],
        },
        options={CONF_MAX_BUY_PRICE: 1500},
    )
    assert entry.data[CONF_NODE_NAME] == "12 rue des Lilas"
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(hass, lambda: entry.runtime_data.meter.snapshot is not None)
    node = entry.runtime_data.market.node

    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = str(diag)
    secrets = (
        "064468368739",
        "12 rue des Lilas",
        tic_line.url,
        "31051967533895",
        peer,
        "Rue des Lilas",
        node.identity.public_key.hex(),
        node.ledger.community_id.hex(),
        str(node.address),
    )
    for secret in secrets:
        assert secret not in text
    assert diag["entry"]["data"][CONF_TIC_MODE] == "auto"
    assert diag["entry"]["options"][CONF_MAX_BUY_PRICE] == 1500
    assert diag["meter"]["status"]["state"] == "connected"
    assert diag["meter"]["counters"]["frames"] >= 1
    assert "EAST" in diag["meter"]["labels"]
    assert diag["meter"]["state"]["import_wh"] == 11887649
    assert diag["node"]["members"] == 1
    assert diag["node"]["is_member"] is True
    assert diag["node"]["chain"] == "ready"  # a one-member community has nobody to ask
    assert diag["node"]["peer_links"][0]["online"] is False
    assert diag["node"]["terms"]["slot_s"] == 900
    assert diag["market"]["agents"] == {
        "sell_surplus": True,
        "flexible_load": False,
        "buy_consumption": True,
    }
    await hass.config_entries.async_unload(entry.entry_id)
