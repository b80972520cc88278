"""The household's solar forecast, as the Energy dashboard has it: the PV seller offers
two hours ahead from it (issue #17, point 4).

The forecast comes from an integration's energy platform (`async_get_solar_forecast`,
what forecast.solar and Solcast give the Energy dashboard); here a test integration's,
so that no service on the internet is asked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock

import pytest
from conftest import T0, NodeDirs, wait_until
from homeassistant.components.energy.data import async_get_manager
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    MockModule,
    mock_integration,
    mock_platform,
)

from custom_components.p2p_energy.const import (
    CONF_BUY_CONSUMPTION,
    CONF_EXPORT_POWER,
    CONF_IMPORT_POWER,
    CONF_METER_SOURCE,
    METER_SOURCE_ENTITIES,
)
from custom_components.p2p_energy.solar_forecast import (
    MAX_PERIODS,
    SolarForecast,
    forecast_entry_ids,
    forecast_periods,
)
from market.model import Side

SLOT = 900
METER = {
    CONF_METER_SOURCE: METER_SOURCE_ENTITIES,
    CONF_IMPORT_POWER: "sensor.grid_in",
    CONF_EXPORT_POWER: "sensor.grid_out",
}


def _iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


ForecastFn = Callable[[HomeAssistant, str], Awaitable[dict[str, dict[str, float | int]]]]


async def _forecast_integration(
    hass: HomeAssistant, domain: str, forecast: ForecastFn, *, also: tuple[str, ...] = ()
) -> None:
    """A solar forecast integration `domain` whose energy platform answers `forecast`,
    chosen as the panels' forecast in the Energy dashboard (with the `also` entry ids)."""
    mock_integration(hass, MockModule(domain))
    mock_platform(hass, f"{domain}.energy", Mock(async_get_solar_forecast=forecast))
    hass.config.components.add(domain)
    forecast_entry = MockConfigEntry(domain=domain)
    forecast_entry.add_to_hass(hass)
    manager = await async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "solar",
                    "stat_energy_from": "sensor.pv_energy",
                    "config_entry_solar_forecast": [forecast_entry.entry_id, *also],
                }
            ]
        }
    )


async def _wh_hours(hass: HomeAssistant, wh_hours: dict[str, Any]) -> None:
    """forecast.solar's answer: Wh per period start."""

    async def async_get_solar_forecast(
        _hass: HomeAssistant, _entry_id: str
    ) -> dict[str, dict[str, float | int]]:
        return {"wh_hours": wh_hours}

    await _forecast_integration(hass, "test_solar", async_get_solar_forecast)


async def test_the_pv_seller_offers_two_hours_ahead_from_the_energy_dashboards_forecast(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    # forecast.solar's shape: Wh per hour; the sun doubles in the next hour
    await _wh_hours(
        hass,
        {_iso(T0 - 3600): 1000.0, _iso(T0): 2000.0, _iso(T0 + 3600): 4000, _iso(T0 + 7200): 4000},
    )
    hass.states.async_set("sensor.grid_in", "0", {"unit_of_measurement": "W"})
    hass.states.async_set("sensor.grid_out", "2000", {"unit_of_measurement": "W"})
    entry = node_dirs.entry(data=METER, options={CONF_BUY_CONSUMPTION: False})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data.market
    hass.states.async_set("sensor.grid_out", "2001", {"unit_of_measurement": "W"})
    await hass.async_block_till_done()
    await wait_until(hass, lambda: hub.readings.solar.entries != [])
    await hub.node.run_agents_now()

    asks = {o.slot: o.energy_wh for o in hub.node.open_orders() if o.side is Side.SELL}
    # 2000 W measured now (500 Wh a slot) while 500 Wh a slot is forecast; the next
    # hour's 1000 Wh a slot raise the surplus by 500 Wh; 5 % less per slot ahead
    assert asks == {
        T0 + SLOT: 500,
        T0 + 2 * SLOT: 475,
        T0 + 3 * SLOT: 450,
        T0 + 4 * SLOT: 850,
        T0 + 5 * SLOT: 800,
        T0 + 6 * SLOT: 750,
        T0 + 7 * SLOT: 700,
        T0 + 8 * SLOT: 650,
    }
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_a_forecast_that_talks_nonsense_is_left_out() -> None:
    now = T0
    assert forecast_periods(None, now) == {}
    assert forecast_periods({"wh_hours": [1, 2]}, now) == {}
    found = forecast_periods(
        {
            "wh_hours": {
                _iso(now): 1500.4,
                "2027-01-15T10:00:00": 100,  # no time zone: which hour?
                "not a time": 100,
                _iso(now + 3600): float("nan"),
                _iso(now + 7200): True,
                _iso(now + 10_800): -5,
                _iso(now + 30 * 86_400): 100,  # beyond the two days that matter
                _iso(now + 14_400): "12",
            }
        },
        now,
    )
    assert found == {now: 1500}


def test_only_the_solar_sources_forecast_entries_count_and_periods_are_bounded() -> None:
    sources = [
        "not a source",
        {"type": "grid", "config_entry_solar_forecast": ["grid"]},
        {"type": "solar", "config_entry_solar_forecast": ["a", "a", 5]},
        {"type": "solar", "config_entry_solar_forecast": None},
        {"type": "solar", "config_entry_solar_forecast": ["b"]},
    ]
    assert forecast_entry_ids(sources) == ["a", "b"]
    many = {"wh_hours": {_iso(T0 + k * 60): 10 for k in range(2000)}}
    assert len(forecast_periods(many, T0)) == MAX_PERIODS


async def test_a_failing_forecast_is_skipped_and_logged_once(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_hass: HomeAssistant, _entry_id: str) -> dict[str, dict[str, float]]:
        raise RuntimeError("service down")

    await _forecast_integration(hass, "broken_solar", broken, also=("gone",))
    solar = SolarForecast(hass, lambda: T0)
    for _ in range(2):
        await solar.async_refresh()
    assert solar.entries == []
    assert solar.slots(T0, SLOT, 4) is None
    assert caplog.text.count("service down") == 1
