"""Clearing parameters of a community, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidParamsError(ValueError):
    """A clearing parameter breaks its rule; names the parameter and the offending value."""

    rule = "invalid clearing parameter"

    def __init__(self, value: object) -> None:
        super().__init__(f"{self.rule} (got {value!r})")
        self.value = value


class UnknownMechanismError(InvalidParamsError):
    """No mechanism is registered under the requested name."""

    rule = "unknown mechanism"


class InvalidKappaError(InvalidParamsError):
    """kappa = k_num/k_den is not a fraction of integers in [0, 1]."""

    rule = "kappa must be k_num/k_den with integers 0 <= k_num <= k_den, k_den > 0"


class InvalidPriceBoundsError(InvalidParamsError):
    """The floor is negative or above the ceiling, or a bound is not an integer."""

    rule = "price bounds must be integers with 0 <= floor <= ceiling"


class InvalidGridFeeError(InvalidParamsError):
    """The grid fee is not a non-negative integer."""

    rule = "grid_fee must be an integer >= 0"


def _is_int(value: object) -> bool:
    return type(value) is int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearingParams:
    """How a community clears its slots.

    `floor` (feed-in price) raises every ask to at least the floor; `ceiling` (retail
    price, None for no bound) lowers every bid to at most the ceiling; `grid_fee` (ticks
    per kWh) is added to every ask, paid by the buyer and passed to the grid, so that a
    seller receives the price minus the fee. kappa = k_num/k_den places the uniform price
    between the marginal ask (0) and the marginal bid (1).
    """

    mechanism: str = "uniform"
    k_num: int = 1
    k_den: int = 2
    floor: int = 0
    ceiling: int | None = None
    grid_fee: int = 0

    def __post_init__(self) -> None:
        mechanism: object = self.mechanism
        if not isinstance(mechanism, str):
            raise UnknownMechanismError(mechanism)
        if not (_is_int(self.k_num) and _is_int(self.k_den)):
            raise InvalidKappaError((self.k_num, self.k_den))
        if self.k_den <= 0 or not 0 <= self.k_num <= self.k_den:
            raise InvalidKappaError(f"{self.k_num}/{self.k_den}")
        if not _is_int(self.floor) or self.floor < 0:
            raise InvalidPriceBoundsError(self.floor)
        if self.ceiling is not None and (not _is_int(self.ceiling) or self.ceiling < self.floor):
            raise InvalidPriceBoundsError((self.floor, self.ceiling))
        if not _is_int(self.grid_fee) or self.grid_fee < 0:
            raise InvalidGridFeeError(self.grid_fee)
