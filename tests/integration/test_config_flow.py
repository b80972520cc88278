"""The config flow a resident walks through: name the node, create a community, say
where the meter readings come from; then reconfigure and options."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
import voluptuous as vol
from conftest import TicLine
from flow_support import (
    assert_flow_title,
    configure,
    configure_options,
    field_selector,
    flow_env_fixture,  # noqa: F401 - the flow_env fixture
    form_values,
    nodes_dir,
    placeholders,
    schema_keys,
    start,
    start_options,
    to_community_menu,
)
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USB,
    ConfigEntry,
    ConfigFlowResult,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.p2p_energy.const import (
    CONF_BUY_CONSUMPTION,
    CONF_CEILING_PRICE,
    CONF_COMMUNITY_ID,
    CONF_COMMUNITY_NAME,
    CONF_DONGLE_ID,
    CONF_EXPORT_ENERGY,
    CONF_EXPORT_POWER,
    CONF_FLEXIBLE_LOAD,
    CONF_FLEXIBLE_LOAD_W,
    CONF_FLOOR_PRICE,
    CONF_IMPORT_ENERGY,
    CONF_IMPORT_POWER,
    CONF_MANUAL_PATH,
    CONF_MAX_BUY_PRICE,
    CONF_MAX_EXPORT_W,
    CONF_MAX_IMPORT_W,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_MIN_SELL_PRICE,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_PV_ENERGY,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_SELL_SURPLUS,
    CONF_SERIAL_PORT,
    CONF_SLOT_MINUTES,
    CONF_TARIFF,
    CONF_TIC_MODE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)
from market.ledger.community import Community
from market.node.datadir import DataDir

# Where the meter steps list the serial ports, and where a dongle is probed.
METER_FLOW = "custom_components.p2p_energy.meter_flow"
SERIAL = "custom_components.p2p_energy.serial_ports"
DASH = " \N{EN DASH} "

pytestmark = pytest.mark.usefixtures("flow_env")


@pytest.fixture(autouse=True)
def short_probe() -> Iterator[None]:
    """A dongle that sends nothing is given up on quickly in tests."""
    with patch(f"{SERIAL}.TIC_PROBE_TIMEOUT_S", 1.5):
        yield


COMMUNITY = {CONF_COMMUNITY_NAME: "Rue des Lilas", CONF_PORT: 0}


async def _to_meter_menu(hass: HomeAssistant, name: str = "Maison") -> ConfigFlowResult:
    result = await to_community_menu(hass, name)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, COMMUNITY)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "meter"
    return result


async def _create_entry(
    hass: HomeAssistant, name: str = "Maison", sensors: dict[str, str] | None = None
) -> ConfigEntry:
    result = await _to_meter_menu(hass, name)
    result = await configure(hass, result, {"next_step_id": "entities"})
    result = await configure(
        hass, result, {CONF_IMPORT_POWER: "sensor.grid_power", **(sensors or {})}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result["result"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- the node's name


async def test_node_name_is_tidied_then_community_menu(hass: HomeAssistant) -> None:
    result = await start(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await configure(hass, result, {CONF_NODE_NAME: "  12 rue \x07  des Lilas "})
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "community"
    assert result["menu_options"] == ["create", "join"]
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, COMMUNITY)
    result = await configure(hass, result, {"next_step_id": "entities"})
    result = await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"})
    assert result["data"][CONF_NODE_NAME] == "12 rue des Lilas"


async def test_form_suggests_the_home_name(hass: HomeAssistant) -> None:
    hass.config.location_name = "Maison Dupont"
    result = await start(hass)
    schema = result["data_schema"]
    assert schema is not None
    assert schema({})[CONF_NODE_NAME] == "Maison Dupont"


async def test_blank_and_overlong_names_are_refused(hass: HomeAssistant) -> None:
    result = await start(hass)
    result = await configure(hass, result, {CONF_NODE_NAME: "   "})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NODE_NAME: "name_required"}
    result = await configure(hass, result, {CONF_NODE_NAME: "x" * 65})
    assert result["errors"] == {CONF_NODE_NAME: "name_too_long"}
    # Neighbours' nodes receive the name as UTF-8: accented letters count double.
    result = await configure(hass, result, {CONF_NODE_NAME: "é" * 33})
    assert result["errors"] == {CONF_NODE_NAME: "name_too_long"}
    result = await configure(hass, result, {CONF_NODE_NAME: "x" * 64})
    assert result["type"] is FlowResultType.MENU


# ---------------------------------------------------------------------- create


async def test_creating_a_community_makes_this_node_its_first_member(
    hass: HomeAssistant, flow_env: AsyncMock
) -> None:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    assert result["step_id"] == "create"
    assert placeholders(result) == {"currency": "EUR"}
    defaults = form_values(result, {CONF_COMMUNITY_NAME: "x"})
    assert defaults[CONF_SLOT_MINUTES] == "15"
    assert defaults[CONF_FLOOR_PRICE] == pytest.approx(0.04)
    assert defaults[CONF_CEILING_PRICE] == pytest.approx(0.1952)
    assert defaults[CONF_PORT] == 8765

    result = await configure(
        hass,
        result,
        {
            CONF_COMMUNITY_NAME: " Rue des  Lilas ",
            CONF_SLOT_MINUTES: "30",
            CONF_FLOOR_PRICE: 0.05,
            CONF_CEILING_PRICE: 0.1799,
            CONF_PORT: 0,
        },
    )
    assert result["step_id"] == "meter"
    result = await configure(hass, result, {"next_step_id": "entities"})
    result = await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Rue des Lilas{DASH}Maison"

    data = result["data"]
    path = nodes_dir(hass) / data[CONF_NODE_DIR]
    community = Community.load(path / "community.json")
    key = DataDir(path).identity().public_key
    assert community.name == "Rue des Lilas"
    assert community.genesis_members == (key,)
    assert (community.terms.slot_s, community.terms.floor, community.terms.ceiling) == (
        1800,
        500,
        1799,
    )
    assert community.terms.currency == "EUR"
    assert (path / "node_key").stat().st_mode & 0o077 == 0  # the key is private
    assert data == {
        CONF_NODE_NAME: "Maison",
        CONF_NODE_DIR: data[CONF_NODE_DIR],
        CONF_PORT: 0,
        CONF_COMMUNITY_ID: community.community_id.hex(),
        CONF_NODE_ID: key.hex(),
        CONF_PEERS: [],
        CONF_METER_SOURCE: METER_SOURCE_ENTITIES,
        CONF_IMPORT_POWER: "sensor.grid_power",
    }
    assert len(data[CONF_NODE_DIR]) == 32
    entry = result["result"]
    assert entry.unique_id == community.community_id.hex()
    # The agents may trade anywhere between the community's bounds until told otherwise.
    assert entry.options == {
        CONF_UPDATE_INTERVAL: 10,
        CONF_MAX_BUY_PRICE: 1799,
        CONF_MIN_SELL_PRICE: 500,
        CONF_SELL_SURPLUS: True,
        CONF_BUY_CONSUMPTION: True,
        CONF_FLEXIBLE_LOAD: False,
        CONF_FLEXIBLE_LOAD_W: 2000,
        CONF_MAX_IMPORT_W: 9000,
        CONF_MAX_EXPORT_W: 6000,
    }
    await hass.async_block_till_done()
    assert flow_env.call_count == 1


async def test_floor_above_ceiling_is_refused(hass: HomeAssistant) -> None:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(
        hass, result, COMMUNITY | {CONF_FLOOR_PRICE: 0.25, CONF_CEILING_PRICE: 0.1952}
    )
    assert result["step_id"] == "create"
    assert result["errors"] == {"base": "floor_above_ceiling"}
    # What was typed stays in the form, and nothing was written yet.
    assert form_values(result, {CONF_COMMUNITY_NAME: "x"})[CONF_FLOOR_PRICE] == 0.25
    assert not nodes_dir(hass).exists()
    result = await configure(
        hass, result, COMMUNITY | {CONF_FLOOR_PRICE: 0.1952, CONF_CEILING_PRICE: 0.1952}
    )
    assert result["step_id"] == "meter"  # equal bounds: a fixed price is allowed


async def test_community_name_must_fit(hass: HomeAssistant) -> None:
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, COMMUNITY | {CONF_COMMUNITY_NAME: "  "})
    assert result["errors"] == {CONF_COMMUNITY_NAME: "name_required"}
    result = await configure(hass, result, COMMUNITY | {CONF_COMMUNITY_NAME: "Rue " * 17})
    assert result["errors"] == {CONF_COMMUNITY_NAME: "name_too_long"}


async def test_terms_the_market_refuses_are_reported(hass: HomeAssistant) -> None:
    hass.config.currency = "EURO"  # not an ISO 4217 code: no community can use it
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, COMMUNITY)
    assert result["errors"] == {"base": "invalid_terms"}


async def test_a_port_another_node_uses_is_refused(hass: HomeAssistant) -> None:
    MockConfigEntry(domain=DOMAIN, unique_id="other", data={CONF_PORT: 8765}).add_to_hass(hass)
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    assert form_values(result, {CONF_COMMUNITY_NAME: "x"})[CONF_PORT] == 8766
    result = await configure(hass, result, COMMUNITY | {CONF_PORT: 8765})
    assert result["errors"] == {CONF_PORT: "port_in_use"}


async def test_an_abandoned_flow_leaves_no_node_behind(hass: HomeAssistant) -> None:
    result = await _to_meter_menu(hass)
    (node,) = nodes_dir(hass).iterdir()
    assert (node / "community.json").exists()
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert not node.exists()


async def test_two_communities_live_side_by_side(hass: HomeAssistant) -> None:
    first = await _create_entry(hass, "Maison")
    second = await _create_entry(hass, "Maison")
    assert first.unique_id != second.unique_id
    assert first.data[CONF_NODE_DIR] != second.data[CONF_NODE_DIR]
    assert first.data[CONF_NODE_ID] != second.data[CONF_NODE_ID]


# ---------------------------------------------------------------------- the meter


async def test_tic_dongle_typed_as_url_is_read_before_accepting(
    hass: HomeAssistant, tic_line: TicLine
) -> None:
    result = await _to_meter_menu(hass)
    result = await configure(hass, result, {"next_step_id": "tic"})
    assert result["step_id"] == "tic"
    result = await configure(hass, result, {CONF_SERIAL_PORT: "manual", CONF_TIC_MODE: "auto"})
    assert result["step_id"] == "tic_manual"

    result = await configure(
        hass, result, {CONF_MANUAL_PATH: "COM-not-a-port", CONF_TIC_MODE: "auto"}
    )
    assert result["errors"] == {"base": "invalid_port"}

    with patch(f"{SERIAL}.TIC_PROBE_TIMEOUT_S", 0.5):
        await tic_line.stop()  # nothing listens there any more
        result = await configure(
            hass, result, {CONF_MANUAL_PATH: tic_line.url, CONF_TIC_MODE: "standard"}
        )
        # Not "check the wiring": the port itself could not be opened.
        assert result["errors"] == {"base": "cannot_connect"}
        result = await configure(
            hass, result, {CONF_MANUAL_PATH: "/dev/ttyUSB-unplugged", CONF_TIC_MODE: "auto"}
        )
        assert result["errors"] == {"base": "cannot_connect"}

    await tic_line.start()
    result = await configure(
        hass, result, {CONF_MANUAL_PATH: f" {tic_line.url} ", CONF_TIC_MODE: "auto"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Rue des Lilas{DASH}Maison"
    data = result["data"]
    assert {key: data[key] for key in _METER_KEYS} == {
        CONF_METER_SOURCE: METER_SOURCE_TIC,
        CONF_SERIAL_PORT: tic_line.url,
        CONF_TIC_MODE: "auto",
        CONF_METER_ADDRESS: "064468368739",  # the capture's ADSC
    }
    assert CONF_DONGLE_ID not in data  # a URL is no USB dongle of this machine


_METER_KEYS = (CONF_METER_SOURCE, CONF_SERIAL_PORT, CONF_TIC_MODE, CONF_METER_ADDRESS)


async def test_historic_mode_on_a_standard_meter_finds_no_frame(
    hass: HomeAssistant, tic_line: TicLine
) -> None:
    result = await _to_meter_menu(hass)
    with patch(f"{METER_FLOW}.list_serial_ports", return_value={tic_line.url: "TIC dongle"}):
        result = await configure(hass, result, {"next_step_id": "tic"})
        result = await configure(
            hass, result, {CONF_SERIAL_PORT: tic_line.url, CONF_TIC_MODE: "historic"}
        )
    assert result["step_id"] == "tic"
    assert result["errors"] == {"base": "no_frame"}


async def test_tic_dongle_picked_from_the_port_list(hass: HomeAssistant, tic_line: TicLine) -> None:
    result = await _to_meter_menu(hass)
    with patch(f"{METER_FLOW}.list_serial_ports", return_value={tic_line.url: "TIC dongle (FTDI)"}):
        result = await configure(hass, result, {"next_step_id": "tic"})
        options = field_selector(result, CONF_SERIAL_PORT).config["options"]
        assert [o["value"] for o in options] == [tic_line.url, "manual"]
        result = await configure(
            hass, result, {CONF_SERIAL_PORT: tic_line.url, CONF_TIC_MODE: "standard"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SERIAL_PORT] == tic_line.url
    assert result["data"][CONF_TIC_MODE] == "standard"


def _energy_sensor(
    hass: HomeAssistant, entity_id: str, state_class: str = "total_increasing"
) -> None:
    hass.states.async_set(
        entity_id,
        "1234.5",
        {"device_class": "energy", "state_class": state_class, "unit_of_measurement": "kWh"},
    )


def suggested(result: ConfigFlowResult) -> dict[str, Any]:
    """The values a form suggests (shown, not defaults) by field."""
    return {str(key): (key.description or {}).get("suggested_value") for key in schema_keys(result)}


async def test_existing_entities_are_the_grid_power_sensors_the_agents_follow(
    hass: HomeAssistant,
) -> None:
    """The form asks for what the agents read (readings.py): live import power
    (required) and export power (optional); then, optional, the energy sensors the
    node's readings are measured from (energy_sensors.py)."""
    result = await _to_meter_menu(hass)
    result = await configure(hass, result, {"next_step_id": "entities"})
    assert result["step_id"] == "entities"
    assert [(type(key), str(key)) for key in schema_keys(result)] == [
        (vol.Required, CONF_IMPORT_POWER),
        (vol.Optional, CONF_EXPORT_POWER),
        (vol.Optional, CONF_IMPORT_ENERGY),
        (vol.Optional, CONF_EXPORT_ENERGY),
        (vol.Optional, CONF_PV_ENERGY),
    ]
    for key, device_class in (
        (CONF_IMPORT_POWER, "power"),
        (CONF_EXPORT_POWER, "power"),
        (CONF_IMPORT_ENERGY, "energy"),
        (CONF_EXPORT_ENERGY, "energy"),
        (CONF_PV_ENERGY, "energy"),
    ):
        config = field_selector(result, key).config
        assert (config["domain"], config["device_class"], config["multiple"]) == (
            ["sensor"],
            [device_class],
            False,
        )
    with pytest.raises(InvalidData):
        await configure(hass, result, {CONF_EXPORT_POWER: "sensor.grid_out"})
    result = await configure(hass, result, {CONF_IMPORT_POWER: "sensor.grid_power"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_METER_SOURCE] == METER_SOURCE_ENTITIES
    assert result["data"][CONF_IMPORT_POWER] == "sensor.grid_power"
    assert CONF_EXPORT_POWER not in result["data"]
    assert CONF_IMPORT_ENERGY not in result["data"]


async def test_energy_sensors_must_be_indexes(hass: HomeAssistant) -> None:
    """An energy sensor is read as an index: one whose state class says it is a rate
    is refused, and export energy is only read with import energy."""
    _energy_sensor(hass, "sensor.grid_import_energy")
    _energy_sensor(hass, "sensor.grid_export_energy", "total")
    _energy_sensor(hass, "sensor.grid_energy_rate", "measurement")
    hass.states.async_set("sensor.solar_energy", "3.2", {"unit_of_measurement": "kWh"})
    result = await _to_meter_menu(hass)
    result = await configure(hass, result, {"next_step_id": "entities"})
    power = {CONF_IMPORT_POWER: "sensor.grid_power"}
    result = await configure(
        hass,
        result,
        power
        | {CONF_IMPORT_ENERGY: "sensor.grid_energy_rate", CONF_PV_ENERGY: "sensor.solar_energy"},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_IMPORT_ENERGY: "not_energy_index",
        CONF_PV_ENERGY: "not_energy_index",
    }
    # What the user picked is shown again.
    assert suggested(result)[CONF_IMPORT_ENERGY] == "sensor.grid_energy_rate"
    result = await configure(
        hass, result, power | {CONF_EXPORT_ENERGY: "sensor.grid_export_energy"}
    )
    assert result["errors"] == {CONF_EXPORT_ENERGY: "export_energy_without_import"}
    sensors = {
        CONF_IMPORT_ENERGY: "sensor.grid_import_energy",
        CONF_EXPORT_ENERGY: "sensor.grid_export_energy",
        CONF_PV_ENERGY: "sensor.not_loaded_yet",  # read once it has a state
    }
    result = await configure(hass, result, power | sensors)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert {key: result["data"][key] for key in sensors} == sensors


async def test_plugged_dongle_is_offered_and_read(hass: HomeAssistant, tic_line: TicLine) -> None:
    """USB discovery of a TIC dongle: name the node, create or join, then the dongle is
    the meter without a menu."""
    discovery = UsbServiceInfo(
        device=tic_line.url,
        vid="0403",
        pid="6015",
        serial_number="DA0ABC",
        manufacturer="FTDI",
        description="uTInfo-V3.0",
    )
    result = await start(hass, SOURCE_USB, discovery)
    assert result["step_id"] == "user"
    assert assert_flow_title(hass, result["flow_id"]) == {"name": tic_line.url}
    result = await configure(hass, result, {CONF_NODE_NAME: "Maison"})
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, COMMUNITY)
    assert result["step_id"] == "tic"  # no menu: the dongle is the meter source
    assert form_values(result, {CONF_TIC_MODE: "auto"})[CONF_SERIAL_PORT] == tic_line.url
    result = await configure(hass, result, {CONF_SERIAL_PORT: tic_line.url, CONF_TIC_MODE: "auto"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SERIAL_PORT] == tic_line.url
    # The entry's unique id is its community's; the dongle is known by its own identity.
    assert result["result"].unique_id == result["data"][CONF_COMMUNITY_ID]
    assert result["data"][CONF_DONGLE_ID] == "0403:6015_DA0ABC_FTDI_uTInfo-V3.0"

    # The same dongle seen again is not offered twice.
    again = await start(hass, SOURCE_USB, discovery)
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_configured"


# ---------------------------------------------------------------------- reconfigure


async def _reconfigure(hass: HomeAssistant, entry: ConfigEntry) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure"
    return result


async def test_reconfigure_renames_moves_and_sets_peers(
    hass: HomeAssistant, flow_env: AsyncMock
) -> None:
    entry = await _create_entry(hass)
    other = MockConfigEntry(domain=DOMAIN, unique_id="other", data={CONF_PORT: 8800})
    other.add_to_hass(hass)
    community_id = entry.unique_id
    result = await _reconfigure(hass, entry)
    shown = form_values(result, {})
    assert (shown[CONF_NODE_NAME], shown[CONF_PORT]) == ("Maison", 0)

    change: dict[str, Any] = {
        CONF_NODE_NAME: "Maison bleue",
        CONF_PORT: 8800,
        CONF_PEERS: ["10.0.0.7:8765", "not a peer"],
    }
    result = await configure(hass, result, change)
    assert result["errors"] == {CONF_PEERS: "invalid_peer", CONF_PORT: "port_in_use"}
    assert placeholders(result) == {"peer": "not a peer"}

    change |= {CONF_PORT: 8801, CONF_PEERS: ["10.0.0.7:8765", " ", "http://node.example.org:9000/"]}
    result = await configure(hass, result, change)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.title == f"Rue des Lilas{DASH}Maison bleue"
    assert entry.unique_id == community_id
    assert entry.data[CONF_NODE_NAME] == "Maison bleue"
    assert entry.data[CONF_PORT] == 8801
    assert entry.data[CONF_PEERS] == ["10.0.0.7:8765", "node.example.org:9000"]
    assert entry.data[CONF_COMMUNITY_ID] == community_id
    # The flow only updates the entry: the running node restarts through its update
    # listener (test_node_setup.py::test_reconfigure_restarts_the_running_node_...).
    assert flow_env.call_count == 1


# ---------------------------------------------------------------------- options


async def test_options_show_prices_per_kwh_and_store_ticks(hass: HomeAssistant) -> None:
    entry = await _create_entry(hass)
    result = await start_options(hass, entry.entry_id)
    assert result["step_id"] == "init"
    assert placeholders(result) == {
        "currency": "EUR",
        "floor": "0.0400",
        "ceiling": "0.1952",
    }
    shown = form_values(result, {})
    assert shown[CONF_TARIFF] == "auto"
    assert shown[CONF_MAX_BUY_PRICE] == pytest.approx(0.1952)
    assert shown[CONF_MIN_SELL_PRICE] == pytest.approx(0.04)
    assert shown[CONF_SELL_SURPLUS] is True
    assert shown[CONF_BUY_CONSUMPTION] is True  # on for every household unless switched off
    assert shown[CONF_FLEXIBLE_LOAD] is False
    assert shown[CONF_UPDATE_INTERVAL] == 10

    result = await configure_options(
        hass,
        result,
        {
            CONF_TARIFF: "hp_hc",
            CONF_MAX_BUY_PRICE: 0.1501,
            CONF_MIN_SELL_PRICE: 0.0823,
            CONF_SELL_SURPLUS: False,
            CONF_BUY_CONSUMPTION: False,
            CONF_FLEXIBLE_LOAD: True,
            CONF_FLEXIBLE_LOAD_W: 3000,
            CONF_MAX_IMPORT_W: 12000,
            CONF_MAX_EXPORT_W: 3000,
            CONF_PEERS: [" 192.168.1.20:8765 ", "", "192.168.1.20:8765", "[fd00::7]:8765"],
            CONF_UPDATE_INTERVAL: 30,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_TARIFF: "hp_hc",
        CONF_MAX_BUY_PRICE: 1501,
        CONF_MIN_SELL_PRICE: 823,
        CONF_SELL_SURPLUS: False,
        CONF_BUY_CONSUMPTION: False,
        CONF_FLEXIBLE_LOAD: True,
        CONF_FLEXIBLE_LOAD_W: 3000,
        CONF_MAX_IMPORT_W: 12000,
        CONF_MAX_EXPORT_W: 3000,
        CONF_PEERS: ["192.168.1.20:8765", "[fd00::7]:8765"],
        CONF_UPDATE_INTERVAL: 30,
    }
    assert all(type(entry.options[key]) is int for key in (CONF_MAX_BUY_PRICE, CONF_MAX_IMPORT_W))

    # Shown again as they were stored.
    result = await start_options(hass, entry.entry_id)
    shown = form_values(result, {})
    assert shown[CONF_MAX_BUY_PRICE] == pytest.approx(0.1501)
    assert shown[CONF_FLEXIBLE_LOAD] is True
    assert shown[CONF_BUY_CONSUMPTION] is False


@pytest.mark.parametrize(
    ("change", "errors", "placeholder"),
    [
        ({CONF_PEERS: ["192.168.1.20"]}, {CONF_PEERS: "invalid_peer"}, "192.168.1.20"),
        ({CONF_PEERS: ["host:99999"]}, {CONF_PEERS: "invalid_peer"}, "host:99999"),
        ({CONF_PEERS: ["bad host:8765"]}, {CONF_PEERS: "invalid_peer"}, "bad host:8765"),
        (
            {CONF_FLEXIBLE_LOAD: True, CONF_FLEXIBLE_LOAD_W: 7400, CONF_MAX_IMPORT_W: 6000},
            {CONF_FLEXIBLE_LOAD_W: "flexible_load_over_import"},
            None,
        ),
        ({CONF_QUIET_START: "18:00:00"}, {CONF_QUIET_END: "quiet_incomplete"}, None),
        ({CONF_QUIET_END: "20:00:00"}, {CONF_QUIET_START: "quiet_incomplete"}, None),
        (
            {CONF_QUIET_START: "18:00:00", CONF_QUIET_END: "18:00:30"},
            {CONF_QUIET_END: "quiet_empty"},
            None,
        ),
    ],
)
async def test_options_refuse_what_cannot_work(
    hass: HomeAssistant, change: dict[str, Any], errors: dict[str, str], placeholder: str | None
) -> None:
    entry = await _create_entry(hass)
    before = dict(entry.options)
    result = await start_options(hass, entry.entry_id)
    user_input = form_values(result, {}) | change
    result = await configure_options(hass, result, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert placeholders(result).get("peer") == placeholder
    assert entry.options == before


async def test_options_keep_the_hours_without_trading_until_cleared(
    hass: HomeAssistant,
) -> None:
    entry = await _create_entry(hass)
    result = await start_options(hass, entry.entry_id)
    assert suggested(result).get(CONF_QUIET_START) is None  # none unless given
    hours = {CONF_QUIET_START: "22:00:00", CONF_QUIET_END: "06:00:00"}  # across midnight
    result = await configure_options(hass, result, form_values(result, {}) | hours)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert {key: entry.options[key] for key in hours} == hours

    result = await start_options(hass, entry.entry_id)
    shown = suggested(result)
    assert (shown[CONF_QUIET_START], shown[CONF_QUIET_END]) == ("22:00:00", "06:00:00")
    # Both cleared: the household trades at all hours again.
    cleared = {key: value for key, value in form_values(result, {}).items() if key not in hours}
    result = await configure_options(hass, result, cleared)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_QUIET_START not in entry.options
    assert CONF_QUIET_END not in entry.options


async def test_options_of_a_node_without_its_files_fall_back_to_defaults(
    hass: HomeAssistant,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="ab" * 32,
        data={CONF_NODE_NAME: "Maison", CONF_NODE_DIR: "missing", CONF_PEERS: ["10.0.0.2:8765"]},
    )
    entry.add_to_hass(hass)
    result = await start_options(hass, entry.entry_id)
    assert placeholders(result)["currency"] == "EUR"
    shown = form_values(result, {})
    assert shown[CONF_MIN_SELL_PRICE] == pytest.approx(0.04)
    result = await configure_options(hass, result, shown)
    # The peers are suggested, not defaults: a list the user emptied stays empty.
    assert entry.options[CONF_PEERS] == []


async def test_options_change_the_energy_sensors(hass: HomeAssistant) -> None:
    _energy_sensor(hass, "sensor.grid_import_energy")
    _energy_sensor(hass, "sensor.solar_energy")
    _energy_sensor(hass, "sensor.grid_energy_rate", "measurement")
    entry = await _create_entry(
        hass,
        sensors={
            CONF_IMPORT_ENERGY: "sensor.grid_import_energy",
            CONF_PV_ENERGY: "sensor.solar_energy",
        },
    )
    result = await start_options(hass, entry.entry_id)
    keys = [str(key) for key in schema_keys(result)]
    assert keys[keys.index(CONF_MAX_EXPORT_W) + 1 : keys.index(CONF_PEERS)] == [
        CONF_QUIET_START,
        CONF_QUIET_END,
        CONF_IMPORT_ENERGY,
        CONF_EXPORT_ENERGY,
        CONF_PV_ENERGY,
    ]
    shown = suggested(result)
    assert (shown[CONF_IMPORT_ENERGY], shown[CONF_EXPORT_ENERGY], shown[CONF_PV_ENERGY]) == (
        "sensor.grid_import_energy",
        None,
        "sensor.solar_energy",
    )
    before = dict(entry.options)
    kept = form_values(result, {}) | {CONF_PV_ENERGY: "sensor.solar_energy"}
    result = await configure_options(
        hass, result, kept | {CONF_IMPORT_ENERGY: "sensor.grid_energy_rate"}
    )
    assert result["errors"] == {CONF_IMPORT_ENERGY: "not_energy_index"}
    assert entry.options == before

    # Cleared in the options: the set-up's sensor is not read any more.
    result = await configure_options(hass, result, kept)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_IMPORT_ENERGY] is None
    assert entry.options[CONF_PV_ENERGY] == "sensor.solar_energy"
    assert CONF_EXPORT_ENERGY not in entry.options  # none at set-up, none now
    result = await start_options(hass, entry.entry_id)
    assert suggested(result)[CONF_IMPORT_ENERGY] is None


async def test_options_of_a_linky_ask_for_the_pv_sensor_only(hass: HomeAssistant) -> None:
    """The Linky's indexes beat grid energy sensors: those are not asked for."""
    _energy_sensor(hass, "sensor.solar_energy")
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="cd" * 32,
        data={CONF_NODE_NAME: "Maison", CONF_NODE_DIR: "missing", CONF_METER_SOURCE: "tic"},
    )
    entry.add_to_hass(hass)
    result = await start_options(hass, entry.entry_id)
    keys = {str(key) for key in schema_keys(result)}
    assert CONF_PV_ENERGY in keys
    assert not keys & {CONF_IMPORT_ENERGY, CONF_EXPORT_ENERGY}
    result = await configure_options(
        hass, result, form_values(result, {}) | {CONF_PV_ENERGY: "sensor.solar_energy"}
    )
    assert entry.options[CONF_PV_ENERGY] == "sensor.solar_energy"


def test_translations_name_every_flow_key() -> None:
    """Keys only reached through rare failures are translated too."""
    from flow_support import TRANSLATIONS

    from custom_components.p2p_energy.flow_helpers import INVITE_ERROR_KEYS

    for strings in TRANSLATIONS:
        errors = strings["config"]["error"]
        assert INVITE_ERROR_KEYS | {"unknown", "storage_failed"} <= set(errors)
        assert "already_in_progress" in strings["config"]["abort"]
        assert set(strings["selector"]["slot_minutes"]["options"]) == {"15", "30", "60"}
