"""The config flow a resident walks through."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import CONF_NODE_NAME, DOMAIN


async def test_user_step_creates_the_node(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "  12 rue   des Lilas "}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "12 rue des Lilas"
    assert result["data"] == {CONF_NODE_NAME: "12 rue des Lilas"}
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.unique_id == "12 rue des lilas"


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
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_same_name_twice_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="maison", data={CONF_NODE_NAME: "Maison"}).add_to_hass(
        hass
    )
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NODE_NAME: "MAISON"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
