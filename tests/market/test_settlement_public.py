"""The sealed part of a settlement (issue #16, point 3): the same bytes for the same
readings and fills whatever their order, the documented test vectors, a household's
own prices applied afterwards, and a settle body refused before the readings closed."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.ledger import SettleBody
from market.ledger.errors import InvalidBodyError
from market.model import Fill, Side
from market.settlement.public import (
    MeterReading,
    priced,
    public_settlement,
    readings_root,
    settlement_bytes,
    settlement_hash,
)
from market.tariff import GridPrices
from market.terms import CommunityTerms

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SLOT = 1_764_000_900
SELLER, BUYER, SILENT = "aa" * 32, "bb" * 32, "cc" * 32
# the documented example: the seller exported 500 Wh of the 600 it sold; the buyer
# imported 1200 of which it bought 600; a third household traded 100 Wh and was not read
FILLS = (
    Fill("01" * 32, Side.SELL, 600, 1300),
    Fill("02" * 32, Side.BUY, 500, 1300),
    Fill("03" * 32, Side.BUY, 100, 1300),
)
OWNER = {"01" * 32: SELLER, "02" * 32: BUYER, "03" * 32: SILENT}
READINGS = {SELLER: MeterReading(0, 500), BUYER: MeterReading(1200, 0)}
READING_HASHES = (
    hashlib.sha256(b"reading seller").digest(),
    hashlib.sha256(b"reading buyer").digest(),
)


def _vectors() -> dict[str, bytes]:
    block = PROTOCOL.read_text().split("<!-- vectors:begin -->")[1].split("<!-- vectors:end")[0]
    pairs = re.findall(r"^(\w+): ([0-9a-f]+)$", block, flags=re.MULTILINE)
    return {name: bytes.fromhex(value) for name, value in pairs}


def test_documented_settlement_vectors_match_the_implementation() -> None:
    v = _vectors()
    rows = public_settlement(FILLS, OWNER, READINGS)
    assert readings_root(READING_HASHES) == v["settle_readings_root"]
    assert settlement_bytes(SLOT, rows) == v["settle_result_bytes"]
    assert settlement_hash(SLOT, rows) == v["settle_result_hash"]
    body = SettleBody(SLOT, v["settle_readings_root"], v["settle_result_hash"])
    assert body.encode() == v["settle_body"]


def test_the_example_allocates_what_the_meters_allow() -> None:
    by_id = {row.household: row for row in public_settlement(FILLS, OWNER, READINGS)}
    assert by_id[SELLER].local_sold_wh == 500  # its meter, not its fill
    assert by_id[BUYER].local_bought_wh == 500
    assert by_id[SILENT].local_bought_wh == 0 and not by_id[SILENT].measured
    assert by_id[BUYER].grid_import_wh == 700
    # grid money waits for the household's own prices
    assert by_id[BUYER].grid_paid == by_id[BUYER].baseline_cost == 0
    own = priced(by_id[BUYER], GridPrices(2081, 400))
    assert own.grid_paid == 700 * 2081
    assert own.baseline_cost == 1200 * 2081
    assert own.savings == 500 * (2081 - 1300)


@given(st.permutations(range(3)), st.permutations(range(2)))
def test_the_sealed_bytes_ignore_the_order_of_fills_and_readings(
    fill_order: list[int], reading_order: list[int]
) -> None:
    fills = [FILLS[i] for i in fill_order]
    readings = dict([list(READINGS.items())[i] for i in reading_order])
    rows = public_settlement(fills, OWNER, readings)
    expected = public_settlement(FILLS, OWNER, READINGS)
    assert settlement_hash(SLOT, rows) == settlement_hash(SLOT, expected)
    assert readings_root(reversed(READING_HASHES)) == readings_root(READING_HASHES)


def test_another_reading_changes_the_commitments() -> None:
    rows = public_settlement(FILLS, OWNER, READINGS)
    more = public_settlement(FILLS, OWNER, {**READINGS, SILENT: MeterReading(100, 0)})
    assert settlement_hash(SLOT, rows) != settlement_hash(SLOT, more)
    assert readings_root(READING_HASHES) != readings_root(READING_HASHES[:1])


def test_a_settle_seal_waits_for_the_reading_closure() -> None:
    terms = CommunityTerms()
    closure = terms.reading_closure(SLOT)
    assert closure == SLOT + terms.slot_s + terms.gate_lead_s
    refusal = terms.settle_refusal(SLOT, closure * 1000 - 1)
    assert refusal is not None and refusal.reason == "premature"
    assert terms.settle_refusal(SLOT, closure * 1000) is None
    assert terms.settle_refusal(SLOT + 1, closure * 1000).reason == "unaligned_slot"  # type: ignore[union-attr]
    assert terms.reading_closure(SLOT) < terms.settle_time(SLOT) < terms.settle_deadline(SLOT)
    with pytest.raises(InvalidBodyError):
        SettleBody(SLOT, b"short", bytes(32))
