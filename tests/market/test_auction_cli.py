"""`python -m market auction clear`: the docs example, canonical output, bad input."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from market.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "market.md"


def doc_block(marker: str) -> str:
    """The fenced block that follows `<!-- marker -->` in docs/market.md."""
    match = re.search(rf"<!-- {marker} -->\s*```json\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert match, marker
    return match.group(1)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write_book(tmp_path: Path, book: object) -> str:
    """Write a book to a JSON file and return its path."""
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book))
    return str(path)


ORDER = {"id": "b1", "author": "a", "side": "buy", "energy_wh": 1500, "price": 1800}


def test_docs_example_prints_the_documented_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example in docs/market.md gives exactly the documented canonical output."""
    path = tmp_path / "book.json"
    path.write_text(doc_block("example-book"))
    code, out, err = run(["auction", "clear", str(path)], capsys)
    assert (code, err) == (0, "")
    assert out == doc_block("example-result")


def test_stdin_and_defaults_and_indent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only orders are required; `-` reads stdin; --indent pretty-prints the same object."""
    book = {"orders": [ORDER, {**ORDER, "id": "s1", "side": "sell", "price": 1000}]}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(book)))
    code, out, _ = run(["auction", "clear", "-", "--indent", "2"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["mechanism"] == "uniform"
    assert result["price"] == 1400
    assert result["volume_wh"] == 1500
    assert [fill["id"] for fill in result["fills"]] == ["b1", "s1"]
    assert out.startswith("{\n  ")


@pytest.mark.parametrize(
    ("book", "message"),
    [
        ({"orders": [{**ORDER, "energy_wh": 0}]}, "order 'b1': energy_wh must be > 0"),
        ({"orders": [{**ORDER, "price": -5}]}, "order 'b1': price must be >= 0"),
        ({"orders": [{**ORDER, "side": "hold"}]}, "order 'b1': side must be"),
        ({"orders": [ORDER, ORDER]}, "order 'b1': order ids must be unique"),
        ({"orders": [{**ORDER, "price": 18.5}]}, "must be integers"),
        ({"orders": [{"id": "b1", "side": "buy"}]}, "missing keys"),
        ({"orders": [{**ORDER, "colour": "red"}]}, "unknown keys ['colour']"),
        ({"orders": "b1"}, '"orders"'),
        ({"ceilling": 1952, "orders": []}, "unknown book keys ['ceilling']"),
        ({"mechanism": "vickrey", "orders": []}, "unknown mechanism"),
        ({"k_num": 3, "k_den": 2, "orders": []}, "kappa"),
        ({"floor": 2000, "ceiling": 1000, "orders": []}, "price bounds"),
        ([1, 2], "a book must be a JSON object"),
        ({"orders": ["b1"]}, "an order must be a JSON object"),
        ({"slot": "today", "orders": []}, "slot must be an integer"),
    ],
)
def test_bad_books_exit_non_zero_with_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], book: object, message: str
) -> None:
    """Every kind of bad input is a one-line error naming the problem, never a traceback."""
    code, out, err = run(["auction", "clear", write_book(tmp_path, book)], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "is not a JSON document"), (b"\xff\xfe", "is not a JSON document")],
)
def test_unparseable_files_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    """Broken JSON or bytes that are not UTF-8 are reported, not raised."""
    path = tmp_path / "book.json"
    path.write_bytes(content)
    code, _, err = run(["auction", "clear", str(path)], capsys)
    assert code == 1
    assert message in err


def test_missing_file_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file is a one-line error."""
    code, _, err = run(["auction", "clear", str(tmp_path / "nope.json")], capsys)
    assert code == 1
    assert "cannot read" in err


def test_mechanisms_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    """`auction mechanisms` names every mechanism a book may ask for."""
    code, out, _ = run(["auction", "mechanisms"], capsys)
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        "uniform",
        "pay_as_bid",
        "midpoint",
        "mcafee",
    ]


def test_real_process_prints_the_result_and_fails_on_bad_input(tmp_path: Path) -> None:
    """`python -m market auction clear` as tools run it: exit codes and streams."""
    good = write_book(tmp_path, {"orders": [ORDER]})
    done = subprocess.run(
        [sys.executable, "-m", "market", "auction", "clear", good],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0
    assert json.loads(done.stdout)["volume_wh"] == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"orders": [{"id": "x"}]}')
    done = subprocess.run(
        [sys.executable, "-m", "market", "auction", "clear", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "Traceback" not in done.stderr
