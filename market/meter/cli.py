"""The `python -m market tic` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `tic` command and its subcommands."""
    parser = subparsers.add_parser("tic", help="decode and simulate Linky TIC meter data")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
