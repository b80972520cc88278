"""The `python -m market auction` subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `auction` command and its subcommands."""
    parser = subparsers.add_parser("auction", help="clear order books with the double auction")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
