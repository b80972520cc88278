"""The `python -m market auction` subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..model import InvalidOrderError
from .clearing import MECHANISMS, clear
from .jsonio import InvalidBookError, book_from_json_obj
from .params import InvalidParamsError


def _read_book(path: str) -> object:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def _clear(args: argparse.Namespace) -> int:
    try:
        orders, params = book_from_json_obj(_read_book(args.book))
        result = clear(orders, params)
    except OSError as err:
        print(f"error: cannot read {args.book}: {err.strerror or err}", file=sys.stderr)
        return 1
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        print(f"error: {args.book} is not a JSON document: {err}", file=sys.stderr)
        return 1
    except (InvalidBookError, InvalidOrderError, InvalidParamsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.indent is None:
        sys.stdout.write(result.to_canonical_json().decode("ascii") + "\n")
    else:
        json.dump(result.to_json_obj(), sys.stdout, indent=args.indent, sort_keys=True)
        sys.stdout.write("\n")
    return 0


def _mechanisms(_args: argparse.Namespace) -> int:
    for name, mechanism in MECHANISMS.items():
        summary = (mechanism.__doc__ or "").strip().splitlines()[0]
        print(f"{name}\t{summary}")
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `auction` command and its subcommands."""
    parser = subparsers.add_parser("auction", help="clear order books with the double auction")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    clear_parser = commands.add_parser(
        "clear",
        help="clear a one-slot JSON book and print the result as JSON",
        description=(
            "Clear the book in BOOK (a JSON file, or - for stdin) and print the result in "
            "its canonical JSON form (sorted keys, no spaces: the bytes nodes hash). "
            "Bad input exits with status 1 and a one-line error. See docs/market.md."
        ),
    )
    clear_parser.add_argument("book", metavar="BOOK.json", help="the book, or - for stdin")
    clear_parser.add_argument(
        "--indent", type=int, default=None, help="pretty-print with this indent (not canonical)"
    )
    clear_parser.set_defaults(handler=_clear)

    list_parser = commands.add_parser("mechanisms", help="list the clearing mechanisms")
    list_parser.set_defaults(handler=_mechanisms)
