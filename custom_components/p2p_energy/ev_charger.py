"""The EV session as the household's charger and car live it: kept across restarts,
corrected by what the charger really measured, paused while the car is unplugged, and
the charging current the plan asks of the charger in the slot under way.

The charger and the car are the user's own entities, named when the session starts
(`start_ev_session`): the charger's energy meter (OCPP, Wallbox, go-e and evcc all have
one), or else the car's state of charge with its battery size; the plugged-in sensor;
the phases. This module never drives them: the blueprint sets the current from the
*EV charging current* sensor, so that the user's automation stays in charge.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store

from market.agents import EvChargingAgent, EvSession, InvalidAgentInputError
from market.agents.ev_plan import EvSchedule, SlotPhase
from market.node.clock import Clock

from .const import DOMAIN
from .energy_sensors import energy_wh
from .household_agents import AGENT_EV, HouseholdAgents

_LOGGER = logging.getLogger(__name__)

STORE_VERSION: Final = 1
# IEC 61851: a charger modulates between 6 A and its rating (32 A for 7.4 kW / 22 kW).
MIN_CURRENT_A: Final = 6
MAX_CURRENT_A: Final = 32
VOLTAGE_V: Final = 230
# Saving the charged energy at most this often (a meter may report every second).
SAVE_DELAY_S: Final = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class EvCharger:
    """What the household named of its charger and car for a session."""

    phases: int = 1
    energy_entity: str | None = None  # the charger's energy meter (kWh, total)
    soc_entity: str | None = None  # the car's state of charge (%), with battery_wh
    battery_wh: int | None = None
    plugged_entity: str | None = None  # on while the car is plugged in

    def __post_init__(self) -> None:
        # also what a stored session is read back into: a damaged file is refused here
        if type(self.phases) is not int or self.phases not in (1, 3):
            raise TypeError(f"phases must be 1 or 3 (got {self.phases!r})")
        battery = self.battery_wh
        if battery is not None and (type(battery) is not int or battery <= 0):
            raise TypeError(f"battery_wh must be a positive int (got {battery!r})")
        for name in ("energy_entity", "soc_entity", "plugged_entity"):
            if not isinstance(getattr(self, name), str | None):
                raise TypeError(f"{name} must be an entity id (got {getattr(self, name)!r})")

    def current_a(self, power_w: int) -> int:
        """The current that draws `power_w` on this charger: rounded down (never more
        than bought), between 6 and 32 A; 0 for no power."""
        if power_w <= 0:
            return 0
        amps = power_w // (VOLTAGE_V * self.phases)
        return min(MAX_CURRENT_A, max(MIN_CURRENT_A, amps))


def charging_current(schedule: EvSchedule | None, slot: int, charger: EvCharger) -> int:
    """The current the plan asks in `slot` (0: the charger stays off)."""
    entry = None if schedule is None else schedule.entry(slot)
    return 0 if entry is None else charger.current_a(entry.power_w)


def soc_wh(hass: HomeAssistant, charger: EvCharger) -> int | None:
    """Energy in the battery (Wh) by the car's state of charge, None when unknown."""
    if charger.soc_entity is None or charger.battery_wh is None:
        return None
    state = hass.states.get(charger.soc_entity)
    try:
        percent = float(state.state) if state is not None else None
    except ValueError:
        return None
    if percent is None or not 0 <= percent <= 100:
        return None
    return int(charger.battery_wh * percent) // 100


class EvSessions:
    """The household's EV session: started, kept in `.storage`, fed its charger's
    measured energy, paused while unplugged, and restored after a restart."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, agents: HouseholdAgents, clock: Clock
    ) -> None:
        self.hass = hass
        self._agents = agents
        self._clock = clock
        self._store: Store[dict[str, Any]] = Store(hass, STORE_VERSION, _store_key(entry))
        self.charger: EvCharger | None = None
        self._session: EvSession | None = None
        self._start_wh: int | None = None  # the meter's (or battery's) Wh at the start
        self._charged_wh = 0
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def charged_wh(self) -> int:
        """What went into the car this session, as far as the household's entities tell."""
        return self._charged_wh

    async def async_start(
        self, session: EvSession, charger: EvCharger, *, charged_wh: int = 0
    ) -> None:
        """Charge the car (replacing a running session). Raises InvalidAgentInputError."""
        await self._agents.async_start_ev_session(session)
        self._follow_stop()
        self._session, self.charger = session, charger
        self._start_wh, self._charged_wh = None, charged_wh
        self._sample()
        self._feed()
        self._follow(charger)
        await self._save()

    async def async_stop(self) -> None:
        """End the session: its orders are withdrawn and it is not restored."""
        self._follow_stop()
        self._session = self.charger = None
        await self._agents.async_stop_ev_session()
        await self._store.async_remove()

    async def async_restore(self) -> None:
        """Take up the session of the previous run if its car has not left yet."""
        stored = await self._store.async_load()
        if not isinstance(stored, dict):
            return
        try:
            session = EvSession(**stored["session"])
            charger = EvCharger(**stored["charger"])
            charged = int(stored["charged_wh"])
            start = stored["start_wh"]
        except (KeyError, TypeError, ValueError, InvalidAgentInputError) as err:
            _LOGGER.warning("The stored EV session could not be read: %s", err)
            await self._store.async_remove()
            return
        if session.departure <= self._clock.now_ms() // 1000:
            await self._store.async_remove()
            return
        charged = max(0, charged)
        if not self._measures(charger):
            session, charged = _left(session, charged), 0
        await self.async_start(session, charger, charged_wh=charged)
        if isinstance(start, int) and self._measures(charger):
            self._start_wh = start
            if self._sample():
                self._feed()
            await self._save()

    async def async_unload(self) -> None:
        """Stop following the entities; the session stays stored, with what was charged
        (a delayed save would be lost with the entry)."""
        self._follow_stop()
        if self._session is not None:
            await self._save()

    def schedule_changed(self, schedule: EvSchedule) -> None:
        """Without a meter, the plan's started slots are what was charged (kept, so that
        a restart does not buy the same energy twice)."""
        if self.charger is None or self._measures(self.charger):
            return
        started = sum(e.energy_wh for e in schedule.slots if e.phase is SlotPhase.STARTED)
        if started != self._charged_wh:
            self._charged_wh = started
            self._store.async_delay_save(self._data, SAVE_DELAY_S)

    # ------------------------------------------------------------------ following

    def _measures(self, charger: EvCharger) -> bool:
        return charger.energy_entity is not None or (
            charger.soc_entity is not None and charger.battery_wh is not None
        )

    def _reading(self) -> int | None:
        charger = self.charger
        if charger is None:
            return None
        if charger.energy_entity is not None:
            return energy_wh(self.hass, charger.energy_entity)
        return soc_wh(self.hass, charger)

    def _follow(self, charger: EvCharger) -> None:
        followed = [
            entity
            for entity in (charger.energy_entity, charger.soc_entity, charger.plugged_entity)
            if entity
        ]
        if followed:
            self._unsubscribe.append(
                async_track_state_change_event(self.hass, followed, self._on_change)
            )

    def _follow_stop(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()

    @callback
    def _on_change(self, event: Event[EventStateChangedData]) -> None:
        charger = self.charger
        if charger is None:
            return
        if event.data["entity_id"] == charger.plugged_entity:
            self.hass.async_create_task(self._plugged(event.data["new_state"]))
            return
        if self._sample():
            self._feed()
            self._store.async_delay_save(self._data, SAVE_DELAY_S)
            self.hass.async_create_task(self._agents.node.run_agents_now())

    def _sample(self) -> bool:
        """Read the meter; True when the charged energy grew."""
        reading = self._reading()
        if reading is None:
            return False
        if self._start_wh is None or reading - self._start_wh < self._charged_wh:
            # the first reading, or the meter went back (a reset, a new session counter,
            # the car driven between two SoC readings): what was charged stays, and is
            # counted on from here
            self._start_wh = reading - self._charged_wh
            return False
        charged = reading - self._start_wh
        if charged == self._charged_wh:
            return False
        self._charged_wh = charged
        return True

    def _feed(self) -> None:
        agent = self._agents.node.agent(AGENT_EV)
        if isinstance(agent, EvChargingAgent) and self.charger and self._measures(self.charger):
            agent.record_charged(self._charged_wh)

    async def _plugged(self, state: Any) -> None:
        if state is None or state.state not in (STATE_ON, STATE_OFF) or self._session is None:
            return
        plugged = state.state == STATE_ON
        hosted = self._agents.node.agent(AGENT_EV) is not None
        if plugged == hosted:
            return
        if not plugged:  # the car is away: what it would buy would go nowhere
            await self._agents.async_stop_ev_session()
            return
        if self.charger is not None and not self._measures(self.charger):
            self._session, self._charged_wh = _left(self._session, self._charged_wh), 0
        await self._agents.async_start_ev_session(self._session)
        self._feed()
        await self._save()

    # ------------------------------------------------------------------ storage

    def _data(self) -> dict[str, Any]:
        if self._session is None or self.charger is None:
            return {}
        return {
            "session": asdict(self._session),
            "charger": asdict(self.charger),
            "charged_wh": self._charged_wh,
            "start_wh": self._start_wh,
        }

    async def _save(self) -> None:
        if self._session is None:
            await self._store.async_remove()
        else:
            await self._store.async_save(self._data())


def _left(session: EvSession, charged_wh: int) -> EvSession:
    """Without a meter, a session taken up again (a restart, the car plugged in again)
    goes on for what the earlier plan's started slots did not charge."""
    left = max(0, session.energy_wh - charged_wh)
    return replace(session, energy_wh=left, min_energy_wh=min(left, session.min_energy_wh))


class EvRequestError(Exception):
    """A start_ev_session call that cannot be charged; `key` is its translation key."""

    def __init__(self, key: str, **placeholders: str) -> None:
        super().__init__(key)
        self.key = key
        self.placeholders = placeholders


@dataclass(frozen=True, slots=True, kw_only=True)
class EvRequest:
    """What a start_ev_session call asks, before the session is built."""

    energy_wh: int | None  # None: from the state of charge
    min_energy_wh: int
    target_soc: int | None
    min_soc: int | None
    charger: EvCharger


def session_energy(hass: HomeAssistant, request: EvRequest) -> tuple[int, int]:
    """The session's energy and its minimum-first part (Wh): as given, or from the car's
    state of charge up to the target (and the minimum) times the battery's size.
    Raises EvRequestError."""
    charger = request.charger
    soc_known = charger.soc_entity is not None and charger.battery_wh is not None
    if request.energy_wh is None and (request.target_soc is None or not soc_known):
        raise EvRequestError("ev_energy_unknown")
    in_car = soc_wh(hass, charger) if soc_known else None
    if (request.energy_wh is None or request.min_soc is not None) and in_car is None:
        raise EvRequestError("ev_soc_unavailable", entity_id=str(charger.soc_entity))
    battery = charger.battery_wh or 0
    energy = request.energy_wh
    if energy is None:
        energy = max(0, battery * (request.target_soc or 0) // 100 - (in_car or 0))
    minimum = request.min_energy_wh
    if request.min_soc is not None:
        minimum = max(minimum, battery * request.min_soc // 100 - (in_car or 0))
    return energy, min(max(0, minimum), energy)


async def async_forget_ev_session(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete the stored session of a removed entry."""
    await Store[dict[str, Any]](hass, STORE_VERSION, _store_key(entry)).async_remove()


def _store_key(entry: ConfigEntry) -> str:
    return f"{DOMAIN}.{entry.entry_id}.ev_session"
