"""market.auction: deterministic double-auction clearing of one delivery slot.

Pure functions, integers only: `clear(orders, params)` gives every node the same
`ClearingResult` for the same set of orders, whatever order they arrived in.
"""

from .book import Book, prepare
from .clearing import DEFAULT_PARAMS, MECHANISMS, Mechanism, clear
from .indication import Indication, indicate
from .params import (
    ClearingParams,
    InvalidGridFeeError,
    InvalidKappaError,
    InvalidParamsError,
    InvalidPriceBoundsError,
    UnknownMechanismError,
)

__all__ = [
    "DEFAULT_PARAMS",
    "MECHANISMS",
    "Book",
    "ClearingParams",
    "Indication",
    "InvalidGridFeeError",
    "InvalidKappaError",
    "InvalidParamsError",
    "InvalidPriceBoundsError",
    "Mechanism",
    "UnknownMechanismError",
    "clear",
    "indicate",
    "prepare",
]
