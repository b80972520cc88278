"""The real Home Assistant process helpers, shared with `make demo` (scripts/demo)."""

from scripts.demo.hass import (
    BASE_CONFIG,
    HASS,
    HassProcess,
    free_port,
    running_hass,
)

__all__ = ["BASE_CONFIG", "HASS", "HassProcess", "free_port", "running_hass"]
