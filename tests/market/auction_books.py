"""Hypothesis strategies for order books and brute-force references for the auction tests."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st

from market.auction import MECHANISMS, ClearingParams
from market.model import ClearingResult, Order, Side

SLOT = 1_764_000_000
MECHANISM_NAMES = sorted(MECHANISMS)

# Few distinct prices make ties at the marginal level common.
_tied_prices = st.sampled_from([400, 1000, 1000, 1200, 1500, 1952])
_any_prices = st.integers(min_value=0, max_value=3000)
_energies = st.one_of(
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=1, max_value=3),
    st.integers(min_value=1, max_value=10**12),
)


def make_order(order_id: str, side: Side, energy_wh: int, price: int) -> Order:
    """An order of the test slot with a fixed author per id."""
    return Order(
        id=order_id, author=f"au-{order_id}", slot=SLOT, side=side, energy_wh=energy_wh, price=price
    )


@st.composite
def orders(draw: st.DrawFn, *, max_size: int = 30, tiny: bool = False) -> list[Order]:
    """A one-slot book; either side may be empty, prices may tie or not cross at all."""
    prices = draw(st.sampled_from([_tied_prices, _any_prices]))
    energies = st.integers(min_value=1, max_value=3) if tiny else _energies
    rows = draw(
        st.lists(
            st.tuples(
                st.text(alphabet="abcdefgh0123", min_size=1, max_size=4),
                st.sampled_from([Side.BUY, Side.SELL]),
                energies,
                prices,
            ),
            max_size=max_size,
            unique_by=lambda row: row[0],
        )
    )
    return [make_order(*row) for row in rows]


@st.composite
def params(draw: st.DrawFn, *, mechanism: str | None = None) -> ClearingParams:
    """Clearing parameters, with or without bounds and grid fee."""
    k_den = draw(st.integers(min_value=1, max_value=7))
    floor = draw(st.sampled_from([0, 400, 900]))
    ceiling = draw(st.sampled_from([None, 1952, floor, floor + 700]))
    return ClearingParams(
        mechanism=mechanism or draw(st.sampled_from(MECHANISM_NAMES)),
        k_num=draw(st.integers(min_value=0, max_value=k_den)),
        k_den=k_den,
        floor=floor,
        ceiling=ceiling,
        grid_fee=draw(st.sampled_from([0, 0, 37, 250])),
    )


def effective_bid(order: Order, params: ClearingParams) -> int:
    """A bid's limit after the ceiling."""
    return order.price if params.ceiling is None else min(order.price, params.ceiling)


def effective_ask(order: Order, params: ClearingParams) -> int:
    """An ask's limit after the floor, plus the grid fee."""
    return max(order.price, params.floor) + params.grid_fee


def max_crossing_volume(book: Iterable[Order], params: ClearingParams) -> int:
    """Brute force: the most energy tradable at any single price."""
    book = list(book)
    bids = [(effective_bid(o, params), o.energy_wh) for o in book if o.side is Side.BUY]
    asks = [(effective_ask(o, params), o.energy_wh) for o in book if o.side is Side.SELL]
    best = 0
    for price in {p for p, _ in bids} | {p for p, _ in asks}:
        demand = sum(e for p, e in bids if p >= price)
        supply = sum(e for p, e in asks if p <= price)
        best = max(best, min(demand, supply))
    return best


def money(result: ClearingResult, side: Side) -> int:
    """Wh*ticks paid by buyers or received by sellers."""
    return sum(fill.amount for fill in result.fills if fill.side is side)


def energy(result: ClearingResult, side: Side) -> int:
    """Wh bought or sold."""
    return sum(fill.energy_wh for fill in result.fills if fill.side is side)
