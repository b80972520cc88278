"""The `python -m market` command line: one subcommand per engine area.

Each area owns a `cli` module with a `register(subparsers)` function that adds its
subcommand and sets `handler` (a callable taking the parsed arguments and returning
the exit code). Keeping the areas' commands in their own packages means adding a
command never touches this file beyond the list below.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from types import ModuleType

from . import __version__
from .agents import cli as agents_cli
from .auction import cli as auction_cli
from .ledger import cli as ledger_cli
from .meter import cli as meter_cli
from .node import cli as node_cli
from .settlement import cli as settlement_cli
from .sim import cli as sim_cli
from .sim.live import simulated_household

Handler = Callable[[argparse.Namespace], int]

COMMAND_MODULES: tuple[ModuleType, ...] = (
    agents_cli,
    auction_cli,
    ledger_cli,
    meter_cli,
    node_cli,
    settlement_cli,
    sim_cli,
)


def build_parser(prog: str = "python -m market") -> argparse.ArgumentParser:
    """Build the top-level parser with every area's subcommands."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="P2P energy market engine: auction, ledger, meter and node tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    # `node --meter sim` runs a simulated household, and the simulator sits above the
    # node: this module, above every area, hands it down.
    parser.set_defaults(simulated_household=simulated_household)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m market") -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    return handler(args)


def script_main() -> int:
    """The `p2p-energy` console script: `main`, with help and usage naming that command."""
    return main(prog="p2p-energy")
