"""A TIC dongle found by Home Assistant's USB discovery: offered once, ignorable, and
followed when it comes back on another path (discovery-update-info)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from conftest import TIC_CAPTURES, NodeDirs, wait_until
from flow_support import (
    configure,
    field_selector,
    flow_env_fixture,  # noqa: F401 - the flow_env fixture
    start,
    to_community_menu,
)
from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_USB, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from serial.tools.list_ports_common import ListPortInfo

from custom_components.p2p_energy.const import (
    CONF_COMMUNITY_NAME,
    CONF_DONGLE_ID,
    CONF_METER_ADDRESS,
    CONF_METER_SOURCE,
    CONF_PORT,
    CONF_SERIAL_PORT,
    CONF_TIC_MODE,
    DOMAIN,
    METER_SOURCE_ENTITIES,
    METER_SOURCE_TIC,
)
from custom_components.p2p_energy.serial_ports import local_dongle_id
from market.meter.sinks import PtySink
from market.meter.snapshot import ReaderState

SERIAL = "custom_components.p2p_energy.serial_ports"
# A µTeleinfo dongle, as Home Assistant's USB discovery describes it.
DONGLE = {
    "vid": "0403",
    "pid": "6015",
    "serial_number": "DA0ABC",
    "manufacturer": "FTDI",
    "description": "uTInfo-V3.0",
}
DONGLE_ID = "0403:6015_DA0ABC_FTDI_uTInfo-V3.0"
OTHER_DONGLE = DONGLE | {"serial_number": "DA0XYZ"}
IMPORT = "sensor.linky_energy_imported"


def plugged(device: str, dongle: dict[str, str] = DONGLE) -> UsbServiceInfo:
    """What USB discovery reports when `dongle` appears at `device`."""
    return UsbServiceInfo(device=device, **dongle)


class PtyDongle:
    """A Linky dongle on a pseudo-terminal: a real tty path, playing a real capture."""

    def __init__(self) -> None:
        self.sink = PtySink()
        self.path = self.sink.path
        self._data = (TIC_CAPTURES / "std_1p_base_real_1.bin").read_bytes()
        self._task = asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        while True:
            self.sink.write(self._data)
            await asyncio.sleep(0.05)

    async def unplug(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.sink.close()


@pytest.fixture
async def ptys() -> AsyncIterator[list[PtyDongle]]:
    """Dongles a test plugs in; all unplugged at the end."""
    dongles: list[PtyDongle] = []
    yield dongles
    for dongle in dongles:
        await dongle.unplug()


def _tic_entry(hass: HomeAssistant, path: str, **data: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="c0ffee",  # a community id
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: path,
            CONF_TIC_MODE: "auto",
            **data,
        },
    )
    entry.add_to_hass(hass)
    return entry


async def _loaded(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    return entry


# ---------------------------------------------------------------------- offered once


@pytest.mark.usefixtures("flow_env")
async def test_ignoring_a_dongle_ignores_it_on_any_usb_port(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """*Ignore* under Settings → Devices & services → Discovered, as the frontend does it."""
    assert await async_setup_component(hass, "config", {})
    offer = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB0"))
    assert offer["step_id"] == "user"

    client = await hass_ws_client(hass)
    await client.send_json(
        {
            "id": 1,
            "type": "config_entries/ignore_flow",
            "flow_id": offer["flow_id"],
            "title": "uTInfo-V3.0",
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    await hass.async_block_till_done()
    (ignored,) = hass.config_entries.async_entries(DOMAIN)
    assert (ignored.source, ignored.unique_id) == (SOURCE_IGNORE, DONGLE_ID)
    assert not hass.config_entries.flow.async_progress()

    for device in ("/dev/ttyUSB0", "/dev/ttyUSB1"):  # replugged, elsewhere too
        again = await start(hass, SOURCE_USB, plugged(device))
        assert again["type"] is FlowResultType.ABORT
        assert again["reason"] == "already_configured"
    # Another dongle is still offered, and a node can still be set up by hand.
    other = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB1", OTHER_DONGLE))
    assert other["step_id"] == "user"
    assert (await to_community_menu(hass))["step_id"] == "community"


@pytest.mark.usefixtures("flow_env")
async def test_one_offer_per_dongle(hass: HomeAssistant) -> None:
    first = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB0"))
    assert first["step_id"] == "user"
    for device in ("/dev/ttyUSB0", "/dev/ttyUSB1"):
        again = await start(hass, SOURCE_USB, plugged(device))
        assert again["type"] is FlowResultType.ABORT
        assert again["reason"] == "already_in_progress"
    assert len(hass.config_entries.flow.async_progress()) == 1


# ---------------------------------------------------------------------- an entry's dongle


@pytest.mark.usefixtures("flow_env")
async def test_the_dongle_of_an_entry_on_its_path_changes_nothing(
    hass: HomeAssistant, flow_env: AsyncMock
) -> None:
    entry = await _loaded(hass, _tic_entry(hass, "/dev/ttyUSB0", **{CONF_DONGLE_ID: DONGLE_ID}))
    data = dict(entry.data)
    result = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB0"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data == data
    assert flow_env.call_count == 1  # not restarted


@pytest.mark.usefixtures("flow_env")
async def test_an_entry_set_up_by_path_learns_its_dongle_then_follows_it(
    hass: HomeAssistant, flow_env: AsyncMock
) -> None:
    """Entries from before dongles were identified (or with a typed path) know only a
    path: the dongle found there is theirs from now on, and is followed when it moves."""
    MockConfigEntry(
        domain=DOMAIN, unique_id="f00d", data={CONF_METER_SOURCE: METER_SOURCE_ENTITIES}
    ).add_to_hass(hass)
    entry = await _loaded(hass, _tic_entry(hass, "/dev/ttyUSB0"))
    setups = flow_env.call_count

    result = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB0"))
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_DONGLE_ID] == DONGLE_ID
    assert entry.data[CONF_SERIAL_PORT] == "/dev/ttyUSB0"
    assert flow_env.call_count == setups  # nothing the node reads changed

    result = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB1"))
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_SERIAL_PORT] == "/dev/ttyUSB1"
    # The flow reloads nothing itself: a running node restarts on the new path through
    # its update listener (test_a_moved_dongle_is_read_on_its_new_path, with a real one).
    assert flow_env.call_count == setups
    assert entry.state is ConfigEntryState.LOADED

    # Another dongle now at the old path is not this entry's: it is offered.
    other = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB0", OTHER_DONGLE))
    assert other["step_id"] == "user"


@pytest.mark.usefixtures("flow_env")
async def test_a_dongle_at_the_path_an_entry_reads_is_not_offered(
    hass: HomeAssistant, flow_env: AsyncMock
) -> None:
    """Whatever sits at an entry's path is what that entry reads: offering it to a new
    node would have two nodes read one meter. The entry keeps its own dongle's id."""
    entry = await _loaded(hass, _tic_entry(hass, "/dev/ttyUSB0", **{CONF_DONGLE_ID: DONGLE_ID}))
    result = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB0", OTHER_DONGLE))
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_DONGLE_ID] == DONGLE_ID
    assert flow_env.call_count == 1


@pytest.mark.usefixtures("flow_env")
async def test_a_moved_dongle_of_an_entry_that_is_not_loaded_is_recorded_only(
    hass: HomeAssistant, flow_env: AsyncMock
) -> None:
    entry = _tic_entry(hass, "/dev/ttyUSB0", **{CONF_DONGLE_ID: DONGLE_ID})
    result = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB3"))
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_SERIAL_PORT] == "/dev/ttyUSB3"
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert flow_env.call_count == 0


async def test_a_moved_dongle_is_read_on_its_new_path(
    hass: HomeAssistant, node_dirs: NodeDirs, ptys: list[PtyDongle]
) -> None:
    """A running node whose dongle comes back on another tty (replugged elsewhere,
    renumbered after a reboot) restarts and reads it there: nothing to set up again."""
    before = PtyDongle()
    ptys.append(before)
    entry = node_dirs.entry(
        data={
            CONF_METER_SOURCE: METER_SOURCE_TIC,
            CONF_SERIAL_PORT: before.path,
            CONF_TIC_MODE: "auto",
            CONF_METER_ADDRESS: "064468368739",
            CONF_DONGLE_ID: DONGLE_ID,
        }
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait_until(hass, lambda: _reads(entry, before.path), limit_s=20)

    await before.unplug()
    ptys.remove(before)
    after = PtyDongle()
    ptys.append(after)
    assert after.path != before.path
    result = await start(hass, SOURCE_USB, plugged(after.path))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_SERIAL_PORT] == after.path

    await wait_until(hass, lambda: _reads(entry, after.path), limit_s=20)
    assert entry.state is ConfigEntryState.LOADED
    await wait_until(hass, lambda: hass.states.get(IMPORT).state == "11887.649")
    assert await hass.config_entries.async_unload(entry.entry_id)


def _reads(entry: MockConfigEntry, path: str) -> bool:
    """The entry's node is running and reads frames from the dongle at `path`."""
    if entry.state is not ConfigEntryState.LOADED:
        return False
    meter = entry.runtime_data.meter
    reader = meter.reader
    return bool(reader.port == path and reader.status.state is ReaderState.CONNECTED)


# ---------------------------------------------------------------------- a dongle picked by hand


@pytest.fixture
def usb_ports(ptys: list[PtyDongle]) -> Iterator[list[ListPortInfo]]:
    """This machine's serial ports as sysfs describes them: the tests' ptys become USB
    dongles (the boundary faked here is the OS's list of ports)."""
    ports: list[ListPortInfo] = []
    with patch(f"{SERIAL}.list_ports.comports", return_value=ports):
        yield ports


def _as_usb(path: str, dongle: dict[str, str]) -> ListPortInfo:
    info = ListPortInfo(path, skip_link_detection=True)
    info.vid = int(dongle["vid"], 16)
    info.pid = int(dongle["pid"], 16)
    info.serial_number = dongle["serial_number"]
    info.manufacturer = dongle["manufacturer"]
    info.description = dongle["description"]
    return info


@pytest.mark.usefixtures("flow_env")
async def test_a_dongle_picked_from_the_list_is_known_when_discovered_elsewhere(
    hass: HomeAssistant, ptys: list[PtyDongle], usb_ports: list[ListPortInfo]
) -> None:
    dongle = PtyDongle()
    ptys.append(dongle)
    usb_ports.extend(
        [
            ListPortInfo("/dev/ttyS0", skip_link_detection=True),  # a UART, not USB
            _as_usb("/dev/ttyACM0", OTHER_DONGLE),
            _as_usb(dongle.path, DONGLE),
        ]
    )
    result = await to_community_menu(hass)
    result = await configure(hass, result, {"next_step_id": "create"})
    result = await configure(hass, result, {CONF_COMMUNITY_NAME: "Rue des Lilas", CONF_PORT: 0})
    result = await configure(hass, result, {"next_step_id": "tic"})
    labels = {
        o["value"]: o["label"] for o in field_selector(result, CONF_SERIAL_PORT).config["options"]
    }
    assert labels[dongle.path] == f"{dongle.path} (uTInfo-V3.0 - FTDI)"
    result = await configure(hass, result, {CONF_SERIAL_PORT: dongle.path, CONF_TIC_MODE: "auto"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data[CONF_DONGLE_ID] == DONGLE_ID
    await hass.async_block_till_done()

    result = await start(hass, SOURCE_USB, plugged("/dev/ttyUSB7"))
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_SERIAL_PORT] == "/dev/ttyUSB7"


async def test_only_usb_devices_have_a_dongle_id(hass: HomeAssistant) -> None:
    assert await hass.async_add_executor_job(local_dongle_id, "/dev/null") is None
    assert await hass.async_add_executor_job(local_dongle_id, "socket://192.0.2.7:3333") is None
