"""Sensors of today's and this month's statements (`statements`): settled energy and
money on the household's device, self-sufficiency, local energy and savings on the
community's. Their values are the statements' figures, as `p2p_energy.get_statement`
returns them; sums restart with each local day or month (`last_reset`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfEnergy
from homeassistant.helpers.typing import StateType

from market.settlement.statement import CommunityStatement, HouseholdStatement, Ratio
from market.units import to_money

from .entity import MarketEntity
from .market_hub import MarketHub
from .statements import Statements

type Scope = Literal["day", "month"]
type HouseholdFn = Callable[[HouseholdStatement], StateType] | None
type CommunityFn = Callable[[CommunityStatement], StateType] | None


@dataclass(frozen=True, kw_only=True)
class StatementSensorDescription(SensorEntityDescription):
    """A figure of today's or this month's statement."""

    period: Scope
    household_fn: HouseholdFn = None
    community_fn: CommunityFn = None

    @property
    def community(self) -> bool:
        """Whether the figure is the community's (on its device)."""
        return self.community_fn is not None


def _percent(ratio: Ratio) -> float | None:
    points = ratio.basis_points
    return None if points is None else points / 100


def _energy(
    key: str, period: Scope, household_fn: HouseholdFn = None, community_fn: CommunityFn = None
) -> StatementSensorDescription:
    return StatementSensorDescription(
        key=key,
        translation_key=key,
        period=period,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=3,
        household_fn=household_fn,
        community_fn=community_fn,
    )


def _money(
    key: str, period: Scope, household_fn: HouseholdFn = None, community_fn: CommunityFn = None
) -> StatementSensorDescription:
    # the unit is the community's currency (set by the entity)
    return StatementSensorDescription(
        key=key,
        translation_key=key,
        period=period,
        device_class=SensorDeviceClass.MONETARY,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        household_fn=household_fn,
        community_fn=community_fn,
    )


def _rate(
    key: str, period: Scope, household_fn: HouseholdFn = None, community_fn: CommunityFn = None
) -> StatementSensorDescription:
    # a share of the period so far, not a sum
    return StatementSensorDescription(
        key=key,
        translation_key=key,
        period=period,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        household_fn=household_fn,
        community_fn=community_fn,
    )


def _descriptions(period: Scope, suffix: str) -> tuple[StatementSensorDescription, ...]:
    return (
        _energy(
            f"bought_locally_{suffix}", period, household_fn=lambda s: s.totals.local_bought_wh
        ),
        _energy(f"sold_locally_{suffix}", period, household_fn=lambda s: s.totals.local_sold_wh),
        _money(
            f"paid_locally_{suffix}", period, household_fn=lambda s: to_money(s.totals.local_paid)
        ),
        _money(
            f"earned_locally_{suffix}",
            period,
            household_fn=lambda s: to_money(s.totals.local_received),
        ),
        _money(f"savings_{suffix}", period, household_fn=lambda s: to_money(s.totals.savings)),
        _rate(f"usage_rate_{suffix}", period, household_fn=lambda s: _percent(s.usage_rate)),
        StatementSensorDescription(
            key=f"certificates_{suffix}",
            translation_key=f"certificates_{suffix}",
            period=period,
            state_class=SensorStateClass.TOTAL,
            household_fn=lambda s: s.certificates.earned,
        ),
        _rate(
            f"self_sufficiency_{suffix}",
            period,
            community_fn=lambda c: _percent(c.self_sufficiency),
        ),
        _energy(f"local_energy_{suffix}", period, community_fn=lambda c: c.local_wh),
        _money(
            f"community_savings_{suffix}",
            period,
            community_fn=lambda c: to_money(c.savings_at_reference),
        ),
    )


STATEMENT_SENSORS: tuple[StatementSensorDescription, ...] = (
    *_descriptions("day", "today"),
    *_descriptions("month", "month"),
)


class StatementSensor(MarketEntity, SensorEntity):
    """A figure of today's or this month's statement; unknown until the node's store
    was first read."""

    entity_description: StatementSensorDescription

    def __init__(self, hub: MarketHub, description: StatementSensorDescription) -> None:
        """Describe the sensor; money is in the community's currency."""
        super().__init__(hub, description, community=description.community)
        if description.device_class is SensorDeviceClass.MONETARY:
            self._attr_native_unit_of_measurement = hub.currency

    def _statement(self) -> HouseholdStatement | CommunityStatement | None:
        statements: Statements | None = self.coordinator.data.statements
        if statements is None:
            return None
        month = self.entity_description.period == "month"
        if self.entity_description.community:
            return statements.community_month if month else statements.community_day
        return statements.month if month else statements.day

    @property
    def native_value(self) -> StateType:
        """The figure in the latest statement."""
        statement = self._statement()
        description = self.entity_description
        if isinstance(statement, CommunityStatement) and description.community_fn is not None:
            return description.community_fn(statement)
        if isinstance(statement, HouseholdStatement) and description.household_fn is not None:
            return description.household_fn(statement)
        return None

    @property
    def last_reset(self) -> datetime | None:
        """The start of the local day or month counted (sums only)."""
        statement = self._statement()
        if statement is None or self.entity_description.state_class is not SensorStateClass.TOTAL:
            return None
        return datetime.fromtimestamp(statement.period.start, UTC)
