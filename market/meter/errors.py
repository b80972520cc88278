"""Exceptions raised by market.meter for invalid configuration.

The decoder itself never raises on line data: bad bytes are dropped and counted.
These exceptions are for what a caller asks of us (a port, a baud rate, a mode).
"""

from __future__ import annotations


class MeterError(Exception):
    """Base class of every market.meter error."""


class InvalidModeError(MeterError, ValueError):
    """A TIC mode other than `auto`, `historic` or `standard` was asked for."""

    def __init__(self, mode: object) -> None:
        super().__init__(f"invalid TIC mode {mode!r}: expected auto, historic or standard")
        self.mode = mode


class InvalidBaudrateError(MeterError, ValueError):
    """A baud rate other than 1200, 9600 or `auto` was asked for."""

    def __init__(self, baudrate: object) -> None:
        super().__init__(f"invalid TIC baud rate {baudrate!r}: expected 1200, 9600 or auto")
        self.baudrate = baudrate


class InvalidPortError(MeterError, ValueError):
    """A serial port that is neither a device path nor a supported URL."""

    def __init__(self, port: object) -> None:
        super().__init__(
            f"invalid serial port {port!r}: expected a /dev/... path, "
            "socket://host:port or rfc2217://host:port"
        )
        self.port = port


class NoFrameError(MeterError):
    """No valid TIC frame arrived within the allowed time."""

    def __init__(self, port: str, timeout: float) -> None:
        super().__init__(f"no valid TIC frame on {port!r} within {timeout:g} s")
        self.port = port
        self.timeout = timeout


class PortUnavailableError(MeterError, OSError):
    """A port that could not be opened at all while a frame was awaited (no such
    device, permission denied, nothing listening at a socket:// address)."""

    def __init__(self, port: str, reason: str | None) -> None:
        super().__init__(f"TIC port {port!r} could not be opened: {reason or 'unknown error'}")
        self.port = port
        self.reason = reason
