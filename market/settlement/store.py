"""The settled slots a node keeps for statements, in SQLite next to its ledger
(`settlement.sqlite3` in the data dir).

The community's public settlement of each slot (the same at every node) and the
household's own prices per slot (never gossiped). Blocking: callers run it off the
event loop (market.node does, in its own single thread).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from ..tariff import GridPrices
from .records import OwnSlot, SettledSlot, SettleState
from .slot import HouseholdSettlement

FILE_NAME = "settlement.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settled_slot (
    slot INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    readings_root BLOB NOT NULL,
    result_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS settled_row (
    slot INTEGER NOT NULL REFERENCES settled_slot(slot) ON DELETE CASCADE,
    household TEXT NOT NULL,
    measured INTEGER NOT NULL,
    import_wh INTEGER NOT NULL,
    export_wh INTEGER NOT NULL,
    local_bought_wh INTEGER NOT NULL,
    local_sold_wh INTEGER NOT NULL,
    local_paid INTEGER NOT NULL,
    local_received INTEGER NOT NULL,
    PRIMARY KEY (slot, household)
);
CREATE TABLE IF NOT EXISTS own_slot (
    slot INTEGER PRIMARY KEY,
    buy_price INTEGER NOT NULL,
    sell_price INTEGER NOT NULL,
    pv_wh INTEGER
);
"""
_INSERT_ROW = (
    "INSERT INTO settled_row (slot, household, measured, import_wh, export_wh, "
    "local_bought_wh, local_sold_wh, local_paid, local_received) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_ROWS = (
    "SELECT slot, household, measured, import_wh, export_wh, local_bought_wh, "
    "local_sold_wh, local_paid, local_received FROM settled_row "
    "WHERE slot >= ? AND slot < ? ORDER BY slot, household"
)


class SettlementStoreError(Exception):
    """The store cannot be read or written (a full disk, a corrupt file)."""


class SettlementStore:
    """Settled slots and own prices; one connection, used from one thread at a time."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        try:
            if read_only:
                uri = f"file:{path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self._db = sqlite3.connect(path, check_same_thread=False)
                self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as err:
            raise SettlementStoreError(f"cannot open {path}: {err}") from err

    @classmethod
    def in_dir(cls, data_dir: Path, *, read_only: bool = False) -> SettlementStore:
        """The store of the node whose data dir is `data_dir`."""
        return cls(data_dir / FILE_NAME, read_only=read_only)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as err:
            raise SettlementStoreError(f"cannot write {self.path}: {err}") from err

    def put(self, settled: SettledSlot) -> None:
        """Record (or replace: a dispute resolved, a reading that came late) a slot."""
        with self._write() as db:
            db.execute("DELETE FROM settled_slot WHERE slot = ?", (settled.slot,))
            db.execute(
                "INSERT INTO settled_slot VALUES (?, ?, ?, ?)",
                (settled.slot, settled.state.value, settled.readings_root, settled.result_hash),
            )
            db.executemany(
                _INSERT_ROW,
                [
                    (
                        settled.slot,
                        row.household,
                        int(row.measured),
                        row.import_wh,
                        row.export_wh,
                        row.local_bought_wh,
                        row.local_sold_wh,
                        row.local_paid,
                        row.local_received,
                    )
                    for row in settled.rows
                ],
            )

    def put_own(self, own: OwnSlot) -> None:
        """Record the household's prices (and PV production) of a slot."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO own_slot VALUES (?, ?, ?, ?)",
                (own.slot, own.prices.buy, own.prices.sell, own.pv_wh),
            )

    def slots(self, start: int, end: int) -> list[SettledSlot]:
        """Settled slots with start <= slot < end, oldest first."""
        try:
            heads = self._db.execute(
                "SELECT slot, state, readings_root, result_hash FROM settled_slot "
                "WHERE slot >= ? AND slot < ? ORDER BY slot",
                (start, end),
            ).fetchall()
            rows: dict[int, list[HouseholdSettlement]] = {}
            with closing(self._db.execute(_SELECT_ROWS, (start, end))) as cursor:
                for slot, household, measured, imp, exp, bought, sold, paid, received in cursor:
                    rows.setdefault(slot, []).append(
                        HouseholdSettlement(
                            household=household,
                            measured=bool(measured),
                            import_wh=imp,
                            export_wh=exp,
                            local_bought_wh=bought,
                            local_sold_wh=sold,
                            grid_import_wh=imp - bought,
                            grid_export_wh=exp - sold,
                            local_paid=paid,
                            local_received=received,
                            grid_paid=0,
                            grid_received=0,
                            baseline_cost=0,
                        )
                    )
        except sqlite3.Error as err:
            raise SettlementStoreError(f"cannot read {self.path}: {err}") from err
        return [
            SettledSlot(slot, SettleState(state), tuple(rows.get(slot, ())), root, result)
            for slot, state, root, result in heads
        ]

    def own(self, start: int, end: int) -> dict[int, OwnSlot]:
        """The household's prices of the slots with start <= slot < end."""
        try:
            found = self._db.execute(
                "SELECT slot, buy_price, sell_price, pv_wh FROM own_slot "
                "WHERE slot >= ? AND slot < ?",
                (start, end),
            ).fetchall()
        except sqlite3.Error as err:
            raise SettlementStoreError(f"cannot read {self.path}: {err}") from err
        return {slot: OwnSlot(slot, GridPrices(buy, sell), pv) for slot, buy, sell, pv in found}

    def span(self) -> tuple[int, int] | None:
        """The first and last settled slot, or None for an empty store."""
        try:
            query = "SELECT min(slot), max(slot) FROM settled_slot"
            first, last = self._db.execute(query).fetchone()
        except sqlite3.Error as err:
            raise SettlementStoreError(f"cannot read {self.path}: {err}") from err
        return None if first is None else (first, last)
