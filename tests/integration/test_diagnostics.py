"""The diagnostics download never carries the household's identifiers."""

from __future__ import annotations

from conftest import TicLine, wait_until
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.p2p_energy.const import (
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_NODE_NAME,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    DOMAIN,
    METER_SOURCE_TIC,
)


async def test_diagnostics_are_redacted(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, tic_line: TicLine
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="maison",
        data={
            CONF_NODE_NAME: "12 rue des Lilas",
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: tic_line.url,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(hass, lambda: entry.runtime_data.meter.snapshot is not None)

    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    text = str(diag)
    for secret in ("064468368739", "12 rue des Lilas", tic_line.url, "31051967533895"):
        assert secret not in text
    assert diag["entry"]["data"][CONF_TIC_MODE] == "auto"
    assert diag["meter"]["status"]["state"] == "connected"
    assert diag["meter"]["counters"]["frames"] >= 1
    assert "EAST" in diag["meter"]["labels"]
    assert diag["meter"]["state"]["import_wh"] == 11887649
    await hass.config_entries.async_unload(entry.entry_id)
