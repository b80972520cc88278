"""The agents' error types: one per invalid state, each raised with the offending value."""

from __future__ import annotations


class InvalidAgentInputError(ValueError):
    """A value given to an agent breaks a rule; names the field, the rule and the value."""

    rule = "invalid agent input"

    def __init__(self, field: str, value: object) -> None:
        super().__init__(f"{field}: {self.rule} (got {value!r})")
        self.field = field
        self.value = value


class NonIntegerValueError(InvalidAgentInputError):
    """A time, energy, power or price is not an int (floats would leak into orders)."""

    rule = "must be an int"


class NegativeValueError(InvalidAgentInputError):
    """An energy, power or price is negative."""

    rule = "must be >= 0"


class InvalidRampError(InvalidAgentInputError):
    """A price ramp has a non-positive duration or fewer than one price level."""

    rule = "ramp needs 1 <= levels <= duration_s"


class InvalidPowerRangeError(InvalidAgentInputError):
    """A minimum power is not positive or above the maximum power that can be drawn."""

    rule = "need 0 < min_power_w <= max_power_w (and <= the household's max import)"


class InvalidWindowError(InvalidAgentInputError):
    """A load window ends before it starts, or windows overlap; or a quiet window is not
    two distinct minutes of the day (0..1439)."""

    rule = "windows need start < end and must not overlap (quiet: two distinct minutes 0..1439)"
