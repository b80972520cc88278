"""The mechanisms by name, and the one entry point that validates and clears a book."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import MappingProxyType

from ..model import ClearingResult, Order
from .book import Book, prepare
from .mcafee import clear_mcafee
from .pairwise import clear_midpoint, clear_pay_as_bid
from .params import ClearingParams, UnknownMechanismError
from .uniform import clear_uniform

Mechanism = Callable[[Book, ClearingParams], ClearingResult]
"""A pure function from a validated book and the parameters to the result."""

MECHANISMS: MappingProxyType[str, Mechanism] = MappingProxyType(
    {
        "uniform": clear_uniform,
        "pay_as_bid": clear_pay_as_bid,
        "midpoint": clear_midpoint,
        "mcafee": clear_mcafee,
    }
)

DEFAULT_PARAMS = ClearingParams()


def clear(orders: Iterable[Order], params: ClearingParams = DEFAULT_PARAMS) -> ClearingResult:
    """Clear one slot's orders with `params.mechanism`.

    Raises `UnknownMechanismError`, `DuplicateOrderIdError` or `MixedSlotsError`. The
    result does not depend on the order of `orders`.
    """
    mechanism = MECHANISMS.get(params.mechanism)
    if mechanism is None:
        raise UnknownMechanismError(params.mechanism)
    return mechanism(prepare(orders, params), params)
