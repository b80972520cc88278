"""A simulated household: its type, equipment and tariff, and its energy per slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..agents.inputs import Reading, SlotForecast
from ..localtime import STEPS_PER_DAY, day_from_number, energy_over, local_day_number, power_at
from ..tariff import BASE_TARIFF, Tariff
from .battery import BatterySpec
from .ev import EvSessionSpec, EvSpec, ev_session, ev_sessions
from .load import LOAD_PROFILES, HouseholdKind, LoadProfile, load_day_table
from .pv import PvSystem, pv_day_table
from .site import DEFAULT_SITE, Site

DEFAULT_SLOT_S = 900


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotEnergy:
    """A household's base load and PV production over one slot (Wh)."""

    load_wh: int
    pv_wh: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Household:
    """One home of the neighbourhood; every figure is a pure function of the spec.

    `seed` individualises the household's noise; the weather comes from `site`.
    """

    id: str
    kind: HouseholdKind
    seed: int
    site: Site = DEFAULT_SITE
    tariff: Tariff = BASE_TARIFF
    pv: PvSystem | None = None
    ev: EvSpec | None = None
    battery: BatterySpec | None = None

    @property
    def load_profile(self) -> LoadProfile:
        """The base-load parameters of the household's type."""
        return LOAD_PROFILES[self.kind]

    def _load_table(self, day: int) -> tuple[int, ...]:
        return load_day_table(self.load_profile, self.seed, self.site, day)

    def _pv_table(self, day: int) -> tuple[int, ...]:
        if self.pv is None:
            return _NO_PV
        return pv_day_table(self.pv, self.site, day)

    def slot_energy(self, slot_start: int, slot_s: int = DEFAULT_SLOT_S) -> SlotEnergy:
        """Base load and PV energy over [slot_start, slot_start + slot_s) (Unix s, UTC)."""
        zone = self.site.timezone
        return SlotEnergy(
            load_wh=energy_over(self._load_table, slot_start, slot_s, zone),
            pv_wh=energy_over(self._pv_table, slot_start, slot_s, zone) if self.pv else 0,
        )

    def forecast(self, slot_start: int, slot_s: int = DEFAULT_SLOT_S) -> SlotForecast:
        """A perfect forecast of the slot, in the agents' input type."""
        energy = self.slot_energy(slot_start, slot_s)
        return SlotForecast(slot=slot_start, pv_wh=energy.pv_wh, load_wh=energy.load_wh)

    def reading(self, at: int) -> Reading:
        """What the household's meter would read at Unix time `at` (5-minute means): the
        net of its PV and base load, as export or import (the agents' input is what a
        real meter sees, never the PV and the load apart)."""
        zone = self.site.timezone
        net_w = power_at(self._pv_table, at, zone) - power_at(self._load_table, at, zone)
        return Reading(at=at, export_w=max(0, net_w), import_w=max(0, -net_w))

    def ev_session(self, day: date) -> EvSessionSpec | None:
        """The car's plug-in on the evening of local `day`, None without a car or a session."""
        if self.ev is None:
            return None
        return ev_session(self.ev, self.seed, day, self.site.timezone)

    def ev_sessions(self, day: date) -> tuple[EvSessionSpec, ...]:
        """Every plug-in of the car on local `day` (daytime and evening), by arrival."""
        if self.ev is None:
            return ()
        return ev_sessions(self.ev, self.seed, day, self.site.timezone)

    def ev_session_at(self, t: int) -> EvSessionSpec | None:
        """The session the car is plugged in for at Unix time `t`, if any.

        An evening session starts on one local day and ends the next morning, so both
        the day of `t` and the day before are looked at; sessions never overlap.
        """
        today = local_day_number(t, self.site.timezone)
        for day in (today - 1, today):
            for session in self.ev_sessions(day_from_number(day)):
                if session.arrival <= t < session.departure:
                    return session
        return None

    def describe(self) -> str:
        """A short label for reports: type and equipment."""
        parts = [str(self.kind)]
        if self.pv:
            parts.append(f"pv {self.pv.peak_w} Wp")
        if self.battery:
            parts.append(f"battery {self.battery.capacity_wh} Wh")
        if self.ev:
            parts.append(f"ev {self.ev.charger_power_w} W {self.ev.profile}")
        parts.append(self.tariff.name)
        return ", ".join(parts)


_NO_PV = (0,) * STEPS_PER_DAY
