"""The part of a slot's settlement every node computes and seals: who was allocated what
of the slot's fills, by the readings the community holds (docs/settlement.md,
"Agreement").

The grid's part is private: each household prices its own residual at its own tariff
(`priced`), which nobody else knows. So the sealed result carries the meters, the
allocation and the local money only, and its commitment is the same on every node that
holds the same readings and the same clearing result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model import Fill
from ..tariff import GridPrices
from .slot import NO_TRADES, HouseholdSettlement, SlotPosition, settle_slot, trades_by_household

_READINGS_DOMAIN = b"p2p-energy readings v1"
_RESULT_DOMAIN = b"p2p-energy settlement v1"
_HEAD = struct.Struct(">QI")
_ROW = struct.Struct(">B QQQQ 16s16s")


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One household's reading of a slot (Wh), as signed on its chain."""

    import_wh: int
    export_wh: int
    estimated: bool = False


def readings_root(hashes: Iterable[bytes]) -> bytes:
    """Commitment to the readings a settlement used: SHA-256 over their sorted entry
    hashes and their count (the order set's rule, under its own domain)."""
    ordered = sorted(hashes)
    digest = hashlib.sha256(_READINGS_DOMAIN)
    digest.update(struct.pack(">I", len(ordered)))
    for entry_hash in ordered:
        digest.update(entry_hash)
    return digest.digest()


def public_settlement(
    fills: Iterable[Fill],
    household_of_order: Mapping[str, str],
    readings: Mapping[str, MeterReading],
) -> tuple[HouseholdSettlement, ...]:
    """Settle a slot without anyone's tariff: every household that traded or was read,
    with its allocation and local money; grid money is 0 until `priced`."""
    trades = trades_by_household(fills, household_of_order)
    positions = []
    for household in sorted(set(trades) | set(readings)):
        reading = readings.get(household)
        positions.append(
            SlotPosition.with_trades(
                household,
                import_wh=0 if reading is None else reading.import_wh,
                export_wh=0 if reading is None else reading.export_wh,
                buy_price=0,
                sell_price=0,
                trades=trades.get(household, NO_TRADES),
                measured=reading is not None,
            )
        )
    return settle_slot(positions)


def priced(row: HouseholdSettlement, prices: GridPrices) -> HouseholdSettlement:
    """A household's settled slot with its grid residual at its own prices (ticks/kWh)."""
    return dataclasses.replace(
        row,
        grid_paid=row.grid_import_wh * prices.buy,
        grid_received=row.grid_export_wh * prices.sell,
        baseline_cost=row.import_wh * prices.buy - row.export_wh * prices.sell,
    )


def settlement_bytes(slot: int, rows: Iterable[HouseholdSettlement]) -> bytes:
    """The canonical bytes of a slot's public settlement (docs/protocol.md, "Settle"):
    slot and row count, then per household in id order its id (UTF-8, length first),
    measured flag, meter, allocation and local money. Grid fields are left out."""
    ordered = sorted(rows, key=lambda row: row.household)
    parts = [_RESULT_DOMAIN, _HEAD.pack(slot, len(ordered))]
    for row in ordered:
        name = row.household.encode()
        parts.append(struct.pack(">H", len(name)) + name)
        parts.append(
            _ROW.pack(
                1 if row.measured else 0,
                row.import_wh,
                row.export_wh,
                row.local_bought_wh,
                row.local_sold_wh,
                row.local_paid.to_bytes(16, "big"),
                row.local_received.to_bytes(16, "big"),
            )
        )
    return b"".join(parts)


def settlement_hash(slot: int, rows: Iterable[HouseholdSettlement]) -> bytes:
    """What a settle seal commits to: SHA-256 of `settlement_bytes`."""
    return hashlib.sha256(settlement_bytes(slot, rows)).digest()
