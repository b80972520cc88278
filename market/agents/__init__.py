"""market.agents: trading strategies as pure, deterministic decision objects.

No I/O, no clock, no asyncio: the node calls `agent.decide(now, observation, cleared)`
with the time (Unix seconds, UTC), the household's readings and forecasts and the
results of cleared slots, and gets back an `AgentDecision` of order intents to place
and intent ids to cancel. Integers only: Wh, W, ticks. See docs/agents.md.
"""

from .base import InvalidAgentIdError
from .consumption_buyer import ConsumptionBuyerAgent
from .demand_forecast import DemandForecaster, InvalidForecastSettingError
from .errors import (
    InvalidAgentInputError,
    InvalidPowerRangeError,
    InvalidRampError,
    InvalidWindowError,
    NegativeValueError,
    NonIntegerValueError,
)
from .ev_plan import EvSchedule, EvSession, EvSlotPlan, SlotPhase, plan_ev, slot_power_w
from .ev_session import EvChargingAgent
from .flexible_load import FlexibleLoadBuyerAgent, LoadWindow, WindowStatus, daily_windows
from .forecast import PersistenceForecaster, slot_production
from .inputs import Observation, Reading, SlotForecast, SlotResult
from .intents import AgentDecision, OrderIntent
from .limits import HouseholdLimits
from .pv_seller import PvSellerAgent
from .ramp import PriceRamp, ask_bounds, bid_bounds

__all__ = [
    "AgentDecision",
    "ConsumptionBuyerAgent",
    "DemandForecaster",
    "EvChargingAgent",
    "EvSchedule",
    "EvSession",
    "EvSlotPlan",
    "FlexibleLoadBuyerAgent",
    "HouseholdLimits",
    "InvalidAgentIdError",
    "InvalidAgentInputError",
    "InvalidForecastSettingError",
    "InvalidPowerRangeError",
    "InvalidRampError",
    "InvalidWindowError",
    "LoadWindow",
    "NegativeValueError",
    "NonIntegerValueError",
    "Observation",
    "OrderIntent",
    "PersistenceForecaster",
    "PriceRamp",
    "PvSellerAgent",
    "Reading",
    "SlotForecast",
    "SlotPhase",
    "SlotResult",
    "WindowStatus",
    "ask_bounds",
    "bid_bounds",
    "daily_windows",
    "plan_ev",
    "slot_power_w",
    "slot_production",
]
