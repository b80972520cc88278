"""What a node keeps of each settled slot, for statements (docs/settlement.md,
"Statements"): the community's public settlement, and the household's own prices."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..tariff import GridPrices
from .public import priced
from .slot import HouseholdSettlement


class SettleState(StrEnum):
    """How a slot's settlement stands at this node."""

    # a quorum sealed the same readings and allocation
    FINAL = "final"
    # nothing was traded (no fill, or the clearing was disputed): the meters alone,
    # which nobody needs to agree on
    NO_TRADES = "no_trades"
    # trades, but no quorum on their allocation yet; re-judged as readings and seals
    # arrive, and counted apart in statements until then
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class SettledSlot:
    """A slot's public settlement: every household read or traded, prices left out.

    `readings_root` and `result_hash` are what the quorum sealed (empty for NO_TRADES).
    """

    slot: int
    state: SettleState
    rows: tuple[HouseholdSettlement, ...]
    readings_root: bytes = b""
    result_hash: bytes = b""

    def row(self, household: str) -> HouseholdSettlement | None:
        """`household`'s row, if it was read or traded in the slot."""
        for row in self.rows:
            if row.household == household:
                return row
        return None

    @property
    def verified(self) -> bool:
        """Whether the allocation stands: final, or nothing to allocate."""
        return self.state is not SettleState.DISPUTED


@dataclass(frozen=True, slots=True)
class OwnSlot:
    """The household's own grid prices in a slot (private: never gossiped) and, when a
    PV sensor is configured, what its panels produced (Wh)."""

    slot: int
    prices: GridPrices
    pv_wh: int | None = None

    def settle(self, settled: SettledSlot, household: str) -> HouseholdSettlement | None:
        """The household's settled slot priced at its own tariff."""
        row = settled.row(household)
        return None if row is None else priced(row, self.prices)
