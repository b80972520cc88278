"""The TIC dongles of this machine, for the config flow: the serial ports to offer, the
identity of a USB dongle whatever its path, and one frame read to prove that a meter
answers on a port.

Functions marked blocking read /dev or sysfs: run them in the executor.
"""

from __future__ import annotations

import os
from pathlib import Path

from serial.tools import list_ports

from market.meter.errors import (
    InvalidBaudrateError,
    InvalidModeError,
    InvalidPortError,
    NoFrameError,
)
from market.meter.reader import read_one_frame
from market.meter.state import state_from_values

from .const import TIC_PROBE_TIMEOUT_S

BY_ID_DIR = Path("/dev/serial/by-id")


def _by_id_paths() -> dict[str, str]:
    by_id: dict[str, str] = {}
    if BY_ID_DIR.is_dir():
        for link in BY_ID_DIR.iterdir():
            by_id[os.path.realpath(link)] = str(link)
    return by_id


def stable_port_path(device: str) -> str:
    """The /dev/serial/by-id path of `device` when there is one (it survives replugging).

    Blocking.
    """
    return _by_id_paths().get(os.path.realpath(device), device)


def list_serial_ports() -> dict[str, str]:
    """Serial ports of this machine, by their stable /dev/serial/by-id path when one exists.

    Blocking.
    """
    by_id = _by_id_paths()
    ports: dict[str, str] = {}
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        path = by_id.get(os.path.realpath(port.device), port.device)
        details = " - ".join(
            part for part in (port.description, port.manufacturer) if part and part != "n/a"
        )
        ports[path] = f"{path} ({details})" if details else path
    return ports


def _usb_number(value: str | int | None) -> str:
    if isinstance(value, int):
        return f"{value:04X}"
    return (value or "0000").upper()


def dongle_id(
    vid: str | int | None,
    pid: str | int | None,
    serial_number: str | None,
    manufacturer: str | None,
    description: str | None,
) -> str:
    """A USB dongle's identity, built as Home Assistant's USB integrations build theirs
    (zha, rainforest_raven): "VID:PID_serial_manufacturer_description". It stays the
    same on any USB port and across renumbering (/dev/ttyUSB0 becoming /dev/ttyUSB1).

    Vendor and product ids come as Home Assistant's USB discovery gives them ("0403")
    or as pyserial does (0x0403).
    """
    return f"{_usb_number(vid)}:{_usb_number(pid)}_{serial_number}_{manufacturer}_{description}"


def local_dongle_id(port: str) -> str | None:
    """The identity (dongle_id) of the USB dongle at the device path `port`; None for a
    URL, or a port that is not a USB device of this machine.

    Blocking.
    """
    if "://" in port:
        return None
    device = os.path.realpath(port)
    for info in list_ports.comports():
        if info.vid is not None and os.path.realpath(info.device) == device:
            return dongle_id(
                info.vid, info.pid, info.serial_number, info.manufacturer, info.description
            )
    return None


class ProbeFailedError(Exception):
    """No meter answered on a port; `key` is the flow's translated error key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


async def probe_meter(port: str, mode: str) -> str | None:
    """The address (ADCO or ADSC) of the meter whose frame was read from `port` (a
    device path or a socket:// / rfc2217:// URL) in TIC `mode`; None if it sends none.

    A frame is read before the entry is made so that a wrong port, mode or wiring is
    said in the form, not found later as sensors that never update. Raises
    ProbeFailedError.
    """
    try:
        frame = await read_one_frame(port, baudrate="auto", mode=mode, wait_s=TIC_PROBE_TIMEOUT_S)
    except (InvalidPortError, InvalidModeError, InvalidBaudrateError):
        raise ProbeFailedError("invalid_port") from None
    except NoFrameError:
        raise ProbeFailedError("no_frame") from None
    except OSError:
        raise ProbeFailedError("cannot_connect") from None
    return state_from_values(frame.mode, frame.datasets).address
