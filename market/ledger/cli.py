"""The `python -m market ledger` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `ledger` command and its subcommands."""
    parser = subparsers.add_parser("ledger", help="inspect and verify a node's signed ledger")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
