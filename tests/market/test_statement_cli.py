"""`python -m market statement`: a node's data dir read as statements, certificates and
ACC keys, from a real SQLite settlement store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings

from market.cli import main
from market.ledger.community import Community
from market.ledger.identity import KEY_FILE_NAME, Identity
from market.localtime import local_time_utc
from market.model import Side
from market.settlement.acc import acc_keys, coefficient
from market.settlement.period import Period
from market.settlement.records import OwnSlot, SettleState
from market.settlement.store import FILE_NAME, SettlementStore
from market.tariff import GridPrices
from tests.market.settled_slots import SLOT_S, Scenario, Trade, scenarios, settled

ROOT = Path(__file__).resolve().parents[2]
SEED = bytes([7]) * 32
ME = Identity(SEED).public_key.hex()
PRODUCER = "b" * 64
OTHER = "c" * 64
DAY = dt.date(2025, 6, 14)
NOON = local_time_utc(DAY, 12 * 3600)
OWN = GridPrices(2081, 400)
PRM = "30001234567890"


def _slots() -> list:
    """The day of tests/market/test_statement.py's worked example (ME is household a),
    and two steps for the ACC keys: at 13:00 ME and OTHER share PRODUCER's 1500 Wh
    two to one, at 13:30 one slot is disputed."""
    one = NOON + 3600
    return [
        settled(
            NOON,
            {ME: (1000, 0), PRODUCER: (100, 800)},
            [Trade(ME, Side.BUY, 600, 1000), Trade(PRODUCER, Side.SELL, 600, 1000)],
        ),
        settled(
            NOON + SLOT_S,
            {ME: (400, 0), PRODUCER: (0, 500)},
            [Trade(ME, Side.BUY, 300, 1100), Trade(PRODUCER, Side.SELL, 300, 1100)],
            SettleState.DISPUTED,
        ),
        settled(NOON + 2 * SLOT_S, {ME: (500, 0), PRODUCER: (0, 900)}),
        settled(
            one,
            {ME: (700, 0), OTHER: (400, 0), PRODUCER: (0, 900)},
            [
                Trade(ME, Side.BUY, 600, 1000),
                Trade(OTHER, Side.BUY, 300, 1000),
                Trade(PRODUCER, Side.SELL, 900, 1000),
            ],
        ),
        settled(
            one + SLOT_S,
            {ME: (500, 0), OTHER: (300, 0), PRODUCER: (0, 600)},
            [
                Trade(ME, Side.BUY, 400, 1000),
                Trade(OTHER, Side.BUY, 200, 1000),
                Trade(PRODUCER, Side.SELL, 600, 1000),
            ],
        ),
        settled(one + 2 * SLOT_S, {ME: (100, 0), PRODUCER: (0, 100)}),
        settled(
            one + 3 * SLOT_S,
            {ME: (100, 0), PRODUCER: (0, 100)},
            [Trade(ME, Side.BUY, 100, 1000), Trade(PRODUCER, Side.SELL, 100, 1000)],
            SettleState.DISPUTED,
        ),
    ]


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """A node's data dir: its key, its community, and a store of settled slots."""
    directory = tmp_path / "node"
    directory.mkdir()
    key = directory / KEY_FILE_NAME
    key.write_bytes(SEED)
    key.chmod(0o600)
    community = Community.create("rue-des-lilas", 0, [Identity(SEED).public_key])
    (directory / "community.json").write_text(community.to_json())
    store = SettlementStore.in_dir(directory)
    for slot in _slots():
        store.put(slot)
        store.put_own(OwnSlot(slot.slot, OWN))
    store.close()
    return directory


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["statement", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_statement_of_a_day(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(node_dir), "--day", "2025-06-14", "--format", "json"], capsys)
    assert code == 0
    obj = json.loads(out)
    assert obj["currency"] == "EUR"
    statement = obj["statement"]
    assert statement["household"] == ME
    totals = statement["totals"]
    # the worked example's three slots, then 13:00-14:00 (two trading slots, one without)
    assert totals["import_wh"] == 1500 + 700 + 500 + 100
    assert totals["local_bought_wh"] == 600 + 600 + 400
    assert totals["local_paid"] == 1600 * 1000
    assert totals["savings"] == 1600 * (2081 - 1000)
    assert statement["usage_rate"] == {
        "numerator_wh": 1600,
        "denominator_wh": 2800,
        "basis_points": 5714,
    }
    assert statement["slots"] == {"final": 3, "no_trades": 2, "disputed": 2, "unmeasured": 0}
    assert statement["disputed"]["local_bought_wh"] == 400
    assert "provisional" in statement["disputed"]["note"]


def test_table_shows_money_in_currency_units(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([str(node_dir), "--day", "2025-06-14"], capsys)
    assert code == 0
    assert f"household {ME[:16]}" in out
    savings = next(line for line in out.splitlines() if line.startswith("Savings"))
    assert savings.split()[-1] == "0.17"  # 1600 Wh x 1081 ticks = 0.172960 EUR
    assert "57.14 % (1600 / 2800 Wh)" in out
    assert "Disputed" in out


def test_csv_of_a_month_has_its_days_then_the_month(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([str(node_dir), "--month", "2025-06", "--format", "csv"], capsys)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["period"] for row in rows] == [f"2025-06-{d:02d}" for d in range(1, 31)] + [
        "2025-06"
    ]
    month = rows[-1]
    assert month["local_bought_wh"] == "1600"
    assert month["savings_eur"] == "0.1730"  # 0.172960 to 4 decimals
    assert month["usage_rate_pct"] == "57.14"
    assert sum(int(row["local_bought_wh"]) for row in rows[:-1]) == 1600


def test_community_statement_names_no_one(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        [str(node_dir), "--day", "2025-06-14", "--community", "--format", "json"], capsys
    )
    assert code == 0
    for key in (ME, PRODUCER, OTHER):
        assert key not in out
    statement = json.loads(out)["statement"]
    assert statement["members"] == 3
    assert statement["local_wh"] == 600 + 900 + 600
    assert statement["self_sufficiency"]["numerator_wh"] == 2100
    assert statement["reference_prices"] == {"import": 1952, "feed_in": 400}
    code, table, _ = run([str(node_dir), "--day", "2025-06-14", "--community"], capsys)
    assert "3 members" in table
    assert "reference prices" in table
    code, text, _ = run(
        [str(node_dir), "--month", "2025-06", "--community", "--format", "csv"], capsys
    )
    assert list(csv.DictReader(io.StringIO(text)))[-1]["local_wh"] == "2100"


def test_certificates_list(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(node_dir), "--certificates", "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out) == {"certificates": []}  # 2.1 kWh is far from a MWh
    code, out, _ = run([str(node_dir), "--certificates", "--community"], capsys)
    assert out == "No green certificate.\n"


def test_acc_keys_share_the_injection_per_30_minute_step(
    node_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    participants = tmp_path / "participants.json"
    participants.write_text(json.dumps({ME.upper(): PRM, PRODUCER: "30009999999999"}))
    argv = [str(node_dir), "--day", "2025-06-14", "--acc-keys", "--participants"]
    code, out, err = run([*argv, str(participants)], capsys)
    assert code == 0
    rows = list(csv.reader(io.StringIO(out), delimiter=";"))
    assert rows[0] == ["Horodate", "Identifiant", "Coefficient"]
    by_step: dict[str, dict[str, str]] = {}
    for step, who, value in rows[1:]:
        by_step.setdefault(step, {})[who] = value
    # 12:00 and 13:30 hold a disputed slot, 12:30 a lone one; at 13:00 ME and OTHER were
    # allocated 1000 and 500 of 1500, PRODUCER (which imported at noon) nothing
    assert by_step == {
        "2025-06-14T13:00:00+02:00": {
            PRM: "0,666666",
            f"key:{OTHER[:16]}": "0,333333",
            "30009999999999": "0,000000",
        }
    }
    assert f"key {OTHER}" in err
    disputed = "2025-06-14T12:00:00+02:00, 2025-06-14T13:30:00+02:00"
    assert f"steps left out (disputed, 2): {disputed}" in err
    assert "steps left out (incomplete, 1): 2025-06-14T12:30:00+02:00" in err
    code, out, _ = run([*argv, str(participants), "--acc-step-min", "15"], capsys)
    fifteen = list(csv.reader(io.StringIO(out), delimiter=";"))[1:]
    assert ["2025-06-14T13:15:00+02:00", PRM, "0,666666"] in fifteen  # 400 of 600


def test_acc_keys_need_the_organisers_file(
    node_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run([str(node_dir), "--acc-keys"], capsys)
    assert code == 2
    assert "--participants" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({ME: 30001234567890}))
    code, _, err = run([str(node_dir), "--acc-keys", "--participants", str(bad)], capsys)
    assert code == 2
    assert "JSON object" in err


def test_a_data_dir_without_a_store_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([str(tmp_path)], capsys)
    assert code == 2
    assert out == ""
    assert f"holds no settlement store ({FILE_NAME})" in err


def test_a_bad_day_is_an_error(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([str(node_dir), "--day", "14/06/2025"], capsys)
    assert code == 2
    assert "YYYY-MM-DD" in err


def test_the_household_statement_never_creates_a_key(
    node_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (node_dir / KEY_FILE_NAME).unlink()
    before = {path.name: path.stat().st_mtime_ns for path in node_dir.iterdir()}
    code, _, err = run([str(node_dir), "--day", "2025-06-14"], capsys)
    assert code == 2
    assert "no node key" in err
    assert not (node_dir / KEY_FILE_NAME).exists()
    code, _, _ = run([str(node_dir), "--day", "2025-06-14", "--community"], capsys)
    assert code == 0
    assert {path.name: path.stat().st_mtime_ns for path in node_dir.iterdir()} == before


def test_today_is_the_default(node_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(node_dir), "--format", "json"], capsys)
    assert code == 0
    today = json.loads(out)["statement"]["period"]
    assert today["kind"] == "day"
    assert today["start"] <= int(dt.datetime.now(dt.UTC).timestamp()) < today["end"]


def test_python_m_market_statement(node_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "market", "statement", str(node_dir), "--month", "2025-06"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Statement of 2025-06 (month)" in proc.stdout
    assert "57.14 %" in proc.stdout


JUNE = Period.month(2025, 6)


@settings(max_examples=100, deadline=None)
@given(scenarios(range(JUNE.start, JUNE.start + 86_400, SLOT_S), max_slots=40))
def test_acc_coefficients_of_a_step_sum_to_at_most_one(scenario: Scenario) -> None:
    keys = acc_keys(scenario.slots, JUNE, slot_s=SLOT_S)
    sums: dict[int, Fraction] = {}
    for key in keys.keys:
        value = Fraction(key.coefficient())
        assert value <= Fraction(key.allocated_wh, key.injection_wh or 1)
        sums[key.step] = sums.get(key.step, Fraction(0)) + value
    assert all(total <= 1 for total in sums.values())
    keyed = {key.step for key in keys.keys}
    skipped = {skip.step for skip in keys.skipped}
    assert not keyed & skipped
    if keys.keys:  # with consumers, every step of the month has keys or a reason
        assert len(keyed | skipped) == 30 * 48
        consumers = {key.consumer for key in keys.keys}
        assert len(keys.keys) == len(keyed) * len(consumers)


def test_coefficient_rounds_down() -> None:
    assert coefficient(2, 3) == "0.666666"
    assert coefficient(3, 3) == "1.000000"
    assert coefficient(1, 0) == "0.000000"
    assert coefficient(1, 3, 2) == "0.33"
