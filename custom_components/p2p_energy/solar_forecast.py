"""The household's solar forecast: what its PV is expected to produce in the coming slots.

The forecasts are the ones the Energy dashboard shows: the config entries chosen as the
solar panels' "forecast production" there (forecast.solar, Solcast, Open-Meteo: any
integration with an energy platform that gives `async_get_solar_forecast`). Nothing to
set up twice; a household without one keeps the PV seller's persistence guess.

They are read every `REFRESH` (the services themselves refresh every 30 min to 1 h),
summed over the entries (two arrays, two forecasts), turned into Wh per slot by
market.agents.slot_production and handed to the agents as `Observation.pv_forecast`.
A forecast that fails or talks nonsense is skipped, logged once until it recovers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from homeassistant.components.energy.data import async_get_manager
from homeassistant.components.energy.websocket_api import async_get_energy_platforms
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from market.agents import slot_production

_LOGGER = logging.getLogger(__name__)

REFRESH: Final = timedelta(minutes=10)
# A forecast's periods beyond two days do not matter to the agents (they look 2 h ahead)
# and are not kept: memory stays bounded whatever an integration returns.
HORIZON_S: Final = 2 * 86_400
MAX_PERIODS: Final = 1000
# The largest Wh a household's PV could produce in one forecast period (36 kVA for an
# hour, a day at most: `slot_production` ignores longer periods).
MAX_PERIOD_WH: Final = 36_000 * 24


def forecast_entry_ids(energy_sources: list[Any]) -> list[str]:
    """The config entries the Energy dashboard's solar sources forecast with."""
    found: list[str] = []
    for source in energy_sources:
        if not isinstance(source, dict) or source.get("type") != "solar":
            continue
        for entry_id in source.get("config_entry_solar_forecast") or ():
            if isinstance(entry_id, str) and entry_id not in found:
                found.append(entry_id)
    return found


def forecast_periods(forecast: Any, now_s: int) -> dict[int, int]:
    """A solar forecast's `wh_hours` (ISO time -> Wh) as period start -> whole Wh, from
    the past day to `HORIZON_S` ahead; what is not a time and a number is left out."""
    periods: dict[int, int] = {}
    wh_hours = forecast.get("wh_hours") if isinstance(forecast, dict) else None
    if not isinstance(wh_hours, dict):
        return periods
    for key, value in wh_hours.items():
        when = dt_util.parse_datetime(key) if isinstance(key, str) else None
        if when is None or when.tzinfo is None:
            continue
        if type(value) not in (int, float) or not math.isfinite(value):
            continue
        start = int(when.timestamp())
        if now_s - 86_400 <= start <= now_s + HORIZON_S and 0 <= value <= MAX_PERIOD_WH:
            periods[start] = round(value)
        if len(periods) >= MAX_PERIODS:
            break
    return periods


class SolarForecast:
    """The household's forecast PV production per slot, refreshed in the background."""

    def __init__(self, hass: HomeAssistant, now_s: Callable[[], int]) -> None:
        """`now_s()` is the market's time (the node's clock), Unix seconds."""
        self.hass = hass
        self._now_s = now_s
        # per forecast entry: period start -> Wh
        self._periods: dict[str, dict[int, int]] = {}
        self._failing: set[str] = set()
        self._unsubscribe: CALLBACK_TYPE | None = None

    @property
    def entries(self) -> list[str]:
        """The forecast entries read last time (those that gave a forecast)."""
        return sorted(self._periods)

    @callback
    def async_start(self) -> None:
        """Read the forecasts now and every `REFRESH`."""
        self.hass.async_create_background_task(self.async_refresh(), "p2p_energy solar forecast")
        self._unsubscribe = async_track_time_interval(
            self.hass, self._on_interval, REFRESH, name="p2p_energy solar forecast"
        )

    @callback
    def async_stop(self) -> None:
        """Stop refreshing."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _on_interval(self, _now: Any) -> None:
        await self.async_refresh()

    async def async_refresh(self) -> None:
        """Read every forecast the Energy dashboard's solar sources name."""
        manager = await async_get_manager(self.hass)
        data = manager.data
        wanted = [] if data is None else forecast_entry_ids(list(data["energy_sources"]))
        platforms = await async_get_energy_platforms(self.hass) if wanted else {}
        periods: dict[str, dict[int, int]] = {}
        now_s = self._now_s()
        for entry_id in wanted:
            entry = self.hass.config_entries.async_get_entry(entry_id)
            if entry is None or entry.domain not in platforms:
                continue
            try:
                forecast = await platforms[entry.domain](self.hass, entry_id)
            except Exception as err:  # another integration's fault must not stop ours
                self._failed(entry_id, err)
                continue
            found = forecast_periods(forecast, now_s)
            if found:
                periods[entry_id] = found
                self._failing.discard(entry_id)
        self._periods = periods

    def _failed(self, entry_id: str, err: Exception) -> None:
        if entry_id not in self._failing:
            self._failing.add(entry_id)
            _LOGGER.warning("The solar forecast of entry %s failed: %s", entry_id, err)

    def slots(self, now_s: int, slot_s: int, count: int) -> dict[int, int] | None:
        """Expected PV production (Wh) of the slot under way at `now_s` and the
        `count - 1` after it, summed over the forecasts; None without any forecast."""
        if not self._periods:
            return None
        first = now_s - now_s % slot_s
        slots = [first + k * slot_s for k in range(count)]
        total: dict[int, int] = {}
        for periods in self._periods.values():
            gaps = [b - a for a, b in zip(sorted(periods), sorted(periods)[1:], strict=False)]
            period_s = min(gaps, default=3600)
            for slot, wh in slot_production(periods, slots, slot_s, period_s=period_s).items():
                total[slot] = total.get(slot, 0) + wh
        return total
