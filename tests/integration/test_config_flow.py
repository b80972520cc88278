"""The config flow a resident walks through."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from conftest import TicLine
from homeassistant.config_entries import SOURCE_USB, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_IMPORT_POWER,
    CONF_MANUAL_PATH,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_NODE_NAME,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)

FLOW = "custom_components.p2p_energy.config_flow"


@pytest.fixture(autouse=True)
def short_probe() -> None:
    """A dongle that sends nothing is given up on quickly in tests."""
    with patch(f"{FLOW}.TIC_PROBE_TIMEOUT_S", 1.5):
        yield


async def _to_meter_menu(hass: HomeAssistant, name: str = "Maison") -> FlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_NODE_NAME: name})


async def test_node_name_is_tidied_then_meter_menu(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "  12 rue   des Lilas "}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "meter"
    assert result["menu_options"] == ["tic", "entities"]


async def test_form_suggests_the_home_name(hass: HomeAssistant) -> None:
    hass.config.location_name = "Maison Dupont"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    schema = result["data_schema"]
    assert schema is not None
    assert schema({})[CONF_NODE_NAME] == "Maison Dupont"


async def test_blank_and_overlong_names_are_refused(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "   "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NODE_NAME: "name_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "x" * 65}
    )
    assert result["errors"] == {CONF_NODE_NAME: "name_too_long"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "x" * 64}
    )
    assert result["type"] is FlowResultType.MENU


async def test_same_name_twice_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="maison", data={CONF_NODE_NAME: "Maison"}).add_to_hass(
        hass
    )
    result = await _to_meter_menu(hass, "MAISON")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_tic_dongle_typed_as_url_is_read_before_accepting(
    hass: HomeAssistant, tic_line: TicLine
) -> None:
    result = await _to_meter_menu(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "tic"}
    )
    assert result["step_id"] == "tic"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: "manual", CONF_TIC_MODE: "auto"}
    )
    assert result["step_id"] == "tic_manual"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_MANUAL_PATH: "COM-not-a-port", CONF_TIC_MODE: "auto"}
    )
    assert result["errors"] == {"base": "invalid_port"}

    with patch(f"{FLOW}.TIC_PROBE_TIMEOUT_S", 0.5):
        await tic_line.stop()  # nothing listens there any more
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_MANUAL_PATH: tic_line.url, CONF_TIC_MODE: "standard"}
        )
    assert result["errors"] == {"base": "no_frame"}

    await tic_line.start()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_MANUAL_PATH: f" {tic_line.url} ", CONF_TIC_MODE: "auto"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Maison"
    assert result["data"] == {
        CONF_NODE_NAME: "Maison",
        CONF_METER_SOURCE: METER_SOURCE_TIC,
        CONF_SERIAL_PORT: tic_line.url,
        CONF_TIC_MODE: "auto",
        CONF_METER_ADDRESS: "064468368739",  # the capture's ADSC
    }
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.unique_id == "maison"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_historic_mode_on_a_standard_meter_finds_no_frame(
    hass: HomeAssistant, tic_line: TicLine
) -> None:
    result = await _to_meter_menu(hass)
    with patch(f"{FLOW}.list_serial_ports", return_value={tic_line.url: "TIC dongle"}):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "tic"}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SERIAL_PORT: tic_line.url, CONF_TIC_MODE: "historic"}
        )
    assert result["step_id"] == "tic"
    assert result["errors"] == {"base": "no_frame"}


async def test_tic_dongle_picked_from_the_port_list(hass: HomeAssistant, tic_line: TicLine) -> None:
    result = await _to_meter_menu(hass)
    with patch(f"{FLOW}.list_serial_ports", return_value={tic_line.url: "TIC dongle (FTDI)"}):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "tic"}
        )
        options = result["data_schema"].schema[CONF_SERIAL_PORT].config["options"]
        assert [o["value"] for o in options] == [tic_line.url, "manual"]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_SERIAL_PORT: tic_line.url, CONF_TIC_MODE: "standard"}
        )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SERIAL_PORT] == tic_line.url
    assert result["data"][CONF_TIC_MODE] == "standard"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await hass.config_entries.async_unload(entry.entry_id)


async def test_existing_entities_need_an_import_sensor(hass: HomeAssistant) -> None:
    result = await _to_meter_menu(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "entities"}
    )
    assert result["step_id"] == "entities"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "import_required"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_IMPORT_POWER: "sensor.grid_power"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_NODE_NAME: "Maison",
        CONF_METER_SOURCE: METER_SOURCE_ENTITIES,
        CONF_IMPORT_POWER: "sensor.grid_power",
    }


async def test_options_set_the_update_interval(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="maison",
        data={CONF_NODE_NAME: "Maison", CONF_METER_SOURCE: METER_SOURCE_ENTITIES},
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_UPDATE_INTERVAL: 30}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_UPDATE_INTERVAL: 30}


async def test_plugged_dongle_is_offered_and_read(hass: HomeAssistant, tic_line: TicLine) -> None:
    """USB discovery of a TIC dongle starts the flow with the port pre-selected."""
    discovery = UsbServiceInfo(
        device=tic_line.url,
        vid="0403",
        pid="6015",
        serial_number="DA0ABC",
        manufacturer="FTDI",
        description="uTInfo-V3.0",
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=discovery
    )
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "Maison"}
    )
    assert result["step_id"] == "tic"  # no menu: the dongle is the meter source
    assert result["data_schema"]({CONF_TIC_MODE: "auto"})[CONF_SERIAL_PORT] == tic_line.url
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SERIAL_PORT: tic_line.url, CONF_TIC_MODE: "auto"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SERIAL_PORT] == tic_line.url

    # The same dongle seen again is not offered twice.
    again = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=discovery
    )
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await hass.config_entries.async_unload(entry.entry_id)
