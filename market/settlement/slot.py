"""Settle one slot by the collective self-consumption rule, in integers: a pure
function of the slot's fills and meter readings, the same for the node, the simulator
and the CLI.

Money is in Wh*ticks (1 Wh at 1 tick = 1e-7 currency unit), like `Fill.amount`.

The rule (docs/settlement.md): a buyer is allocated no more traded energy than it
imported, a seller no more than it exported, as Enedis allocates ACC production, and a
household without a reading is allocated nothing; the longer side is then scaled down
pro rata (largest remainders, ties to the smaller household id) so that the community's
allocated purchases equal its allocated sales. Allocated energy keeps the average price
of the household's fills, rounded in the household's favour; the rest of the metered
energy is bought from or sold to the grid at the household's own tariff for the slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Fill, Side


class InvalidPositionError(ValueError):
    """A settlement input breaks a rule; the message names the household and the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Trades:
    """What a household's fills of one slot add up to: energy (Wh) and money (Wh*ticks)."""

    traded_buy_wh: int = 0
    traded_sell_wh: int = 0
    buy_amount: int = 0
    sell_amount: int = 0


NO_TRADES = Trades()


def trades_by_household(
    fills: Iterable[Fill], household_of_order: Mapping[str, str]
) -> dict[str, Trades]:
    """Sum a slot's fills per household (the order's author) for `SlotPosition`s."""
    sums: dict[str, list[int]] = {}
    for fill in fills:
        row = sums.setdefault(household_of_order[fill.order_id], [0, 0, 0, 0])
        if fill.side is Side.BUY:
            row[0] += fill.energy_wh
            row[2] += fill.amount
        else:
            row[1] += fill.energy_wh
            row[3] += fill.amount
    return {
        household: Trades(traded_buy_wh=b, traded_sell_wh=s, buy_amount=ba, sell_amount=sa)
        for household, (b, s, ba, sa) in sums.items()
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SlotPosition:
    """One household's slot: its meter, its tariff's prices (ticks/kWh) and its trades.

    `import_wh` and `export_wh` are what the meter counted, after the household's own
    self-consumption; `buy_price` and `sell_price` are the household's grid tariff in
    the slot (market.tariff); `traded_*_wh` and `*_amount` (Wh*ticks) sum the
    household's fills. `measured` False: no reading came for the slot, so nothing can be
    allocated to the household and its meter fields are 0.
    """

    household: str
    import_wh: int
    export_wh: int
    buy_price: int
    sell_price: int
    traded_buy_wh: int = 0
    traded_sell_wh: int = 0
    buy_amount: int = 0
    sell_amount: int = 0
    measured: bool = True

    @classmethod
    def with_trades(
        cls,
        household: str,
        *,
        import_wh: int,
        export_wh: int,
        buy_price: int,
        sell_price: int,
        trades: Trades = NO_TRADES,
        measured: bool = True,
    ) -> SlotPosition:
        """A position whose trade fields come from `trades_by_household`."""
        return cls(
            household=household,
            measured=measured,
            import_wh=import_wh,
            export_wh=export_wh,
            buy_price=buy_price,
            sell_price=sell_price,
            traded_buy_wh=trades.traded_buy_wh,
            traded_sell_wh=trades.traded_sell_wh,
            buy_amount=trades.buy_amount,
            sell_amount=trades.sell_amount,
        )

    def __post_init__(self) -> None:
        if not isinstance(self.household, str) or not self.household:
            raise InvalidPositionError(f"household must be a non-empty string: {self.household!r}")
        values = {
            "import_wh": self.import_wh,
            "export_wh": self.export_wh,
            "buy_price": self.buy_price,
            "sell_price": self.sell_price,
            "traded_buy_wh": self.traded_buy_wh,
            "traded_sell_wh": self.traded_sell_wh,
            "buy_amount": self.buy_amount,
            "sell_amount": self.sell_amount,
        }
        for name, value in values.items():
            if type(value) is not int or value < 0:
                raise InvalidPositionError(f"{self.household}: {name} must be an int >= 0")
        for energy, amount in (("traded_buy_wh", "buy_amount"), ("traded_sell_wh", "sell_amount")):
            if values[energy] == 0 and values[amount] != 0:
                raise InvalidPositionError(f"{self.household}: {amount} without {energy}")
        if not self.measured and (self.import_wh or self.export_wh):
            raise InvalidPositionError(f"{self.household}: meter energy without a reading")


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdSettlement:
    """A household's settled slot: energy (Wh) and money (Wh*ticks) by counterpart.

    `baseline_cost` is what the same meter readings would cost with the grid alone;
    `cost` and `baseline_cost` are net (paid minus received), so negative is income.
    """

    household: str
    measured: bool
    import_wh: int
    export_wh: int
    local_bought_wh: int
    local_sold_wh: int
    grid_import_wh: int
    grid_export_wh: int
    local_paid: int
    local_received: int
    grid_paid: int
    grid_received: int
    baseline_cost: int

    @property
    def cost(self) -> int:
        """Net money paid over the slot, local market and grid together."""
        return self.local_paid + self.grid_paid - self.local_received - self.grid_received

    @property
    def savings(self) -> int:
        """What the market saved against the grid alone (never negative within bounds)."""
        return self.baseline_cost - self.cost

    def to_json_obj(self) -> dict[str, Any]:
        """The settlement as a JSON object, with the derived cost and savings."""
        return {
            "household": self.household,
            "measured": self.measured,
            "import_wh": self.import_wh,
            "export_wh": self.export_wh,
            "local_bought_wh": self.local_bought_wh,
            "local_sold_wh": self.local_sold_wh,
            "grid_import_wh": self.grid_import_wh,
            "grid_export_wh": self.grid_export_wh,
            "local_paid": self.local_paid,
            "local_received": self.local_received,
            "grid_paid": self.grid_paid,
            "grid_received": self.grid_received,
            "cost": self.cost,
            "baseline_cost": self.baseline_cost,
        }


def scale_down(shares: Mapping[str, int], total: int) -> dict[str, int]:
    """Shares reduced pro rata so they sum to `total` (at most their current sum).

    Each gets floor(share * total / sum); the Wh left over go one each to the largest
    remainders, ties to the smaller household id, so every node gets the same split
    and nobody gets more than its share.
    """
    current = sum(shares.values())
    if total >= current:
        return dict(shares)
    scaled: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for household, share in shares.items():
        quotient, remainder = divmod(share * total, current)
        scaled[household] = quotient
        remainders.append((-remainder, household))
    left = total - sum(scaled.values())
    for _, household in sorted(remainders)[:left]:
        scaled[household] += 1
    return scaled


def _pro_rata(amount: int, part: int, whole: int, *, round_up: bool) -> int:
    # Rounded in the household's favour (buyers down, sellers up) so a partial
    # allocation never costs more per kWh than the fills did.
    if part == whole:
        return amount
    return -(-amount * part // whole) if round_up else amount * part // whole


def settle_slot(positions: Iterable[SlotPosition]) -> tuple[HouseholdSettlement, ...]:
    """Settle one slot; the result is sorted by household id and independent of input order."""
    by_id: dict[str, SlotPosition] = {}
    for position in positions:
        if position.household in by_id:
            raise InvalidPositionError(f"{position.household}: appears twice in one slot")
        by_id[position.household] = position
    ordered = [by_id[household] for household in sorted(by_id)]
    # allocated <= measured: without a reading, import_wh and export_wh are 0
    bought = {p.household: min(p.traded_buy_wh, p.import_wh) for p in ordered}
    sold = {p.household: min(p.traded_sell_wh, p.export_wh) for p in ordered}
    matched = min(sum(bought.values()), sum(sold.values()))
    bought = scale_down(bought, matched)
    sold = scale_down(sold, matched)
    out: list[HouseholdSettlement] = []
    for p in ordered:
        local_in, local_out = bought[p.household], sold[p.household]
        grid_in, grid_out = p.import_wh - local_in, p.export_wh - local_out
        out.append(
            HouseholdSettlement(
                household=p.household,
                measured=p.measured,
                import_wh=p.import_wh,
                export_wh=p.export_wh,
                local_bought_wh=local_in,
                local_sold_wh=local_out,
                grid_import_wh=grid_in,
                grid_export_wh=grid_out,
                local_paid=_pro_rata(p.buy_amount, local_in, p.traded_buy_wh, round_up=False),
                local_received=_pro_rata(p.sell_amount, local_out, p.traded_sell_wh, round_up=True),
                grid_paid=grid_in * p.buy_price,
                grid_received=grid_out * p.sell_price,
                baseline_cost=p.import_wh * p.buy_price - p.export_wh * p.sell_price,
            )
        )
    return tuple(out)
