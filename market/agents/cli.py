"""The `python -m market agents` subcommands: inspect the ramps and the EV planner."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..terms import CommunityTerms, InvalidCommunityTermsError
from .errors import InvalidAgentInputError
from .ev_plan import EvSession, plan_ev
from .inputs import Observation
from .limits import HouseholdLimits
from .ramp import PriceRamp, ask_bounds, bid_bounds


def _terms(args: argparse.Namespace) -> CommunityTerms:
    return CommunityTerms(
        floor=args.floor,
        ceiling=args.ceiling,
        grid_fee=args.grid_fee,
        slot_s=args.slot_s,
        gate_lead_s=args.gate_lead_s,
    )


def _ramp(args: argparse.Namespace) -> int:
    try:
        terms = _terms(args)
        ramp = PriceRamp(duration_s=args.duration_s, levels=args.levels)
        limits = HouseholdLimits(
            max_buy_price=args.limit if args.side == "buy" else terms.ceiling,
            min_sell_price=args.limit if args.side == "sell" else 0,
            max_import_w=0,
            max_export_w=0,
        )
    except (InvalidAgentInputError, InvalidCommunityTermsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.side == "sell":
        start, end = ask_bounds(terms, limits, 0)
    else:
        start, end = bid_bounds(terms, limits, terms.ceiling, 0)
    print("seconds_before_gate\tprice")
    step = max(1, ramp.duration_s // (4 * ramp.levels))
    for before in range(ramp.duration_s + step, 0, -step):
        print(f"{before}\t{ramp.price(start, end, -before, 0)}")
    return 0


def _read_prices(path: str | None) -> dict[int, int]:
    if path is None:
        return {}
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise TypeError("expected a JSON object {slot: price}")
    prices = {int(slot): price for slot, price in raw.items()}
    return dict(Observation(expected_prices=prices).expected_prices)


def _ev_plan(args: argparse.Namespace) -> int:
    try:
        terms = _terms(args)
        session = EvSession(
            energy_wh=args.energy_wh,
            departure=args.departure,
            max_price=args.max_price,
            min_power_w=args.min_power_w,
            max_power_w=args.max_power_w,
            grid_fallback=not args.no_grid_fallback,
        )
        prices = _read_prices(args.prices)
        schedule = plan_ev(
            now=args.now,
            session=session,
            terms=terms,
            max_power_w=session.max_power_w,
            bid_limit=min(session.max_price, terms.ceiling),
            expected_prices=prices,
        )
    except (InvalidAgentInputError, OSError, ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    json.dump(schedule.to_json_obj(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _add_terms(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--floor", type=int, default=400, help="feed-in price, ticks")
    parser.add_argument("--ceiling", type=int, default=1952, help="retail price, ticks")
    parser.add_argument("--grid-fee", type=int, default=0, help="ticks per kWh added to asks")
    parser.add_argument("--slot-s", type=int, default=900, help="slot length, seconds")
    parser.add_argument("--gate-lead-s", type=int, default=300, help="gate lead, seconds")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `agents` command and its subcommands."""
    parser = subparsers.add_parser("agents", help="inspect the trading agents' ramps and plans")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")

    ramp = commands.add_parser(
        "ramp", help="print an agent's price ramp against the time left before gate closure"
    )
    _add_terms(ramp)
    ramp.add_argument("--side", choices=("sell", "buy"), default="sell")
    ramp.add_argument(
        "--limit", type=int, default=0, help="household min sell / max buy price, ticks"
    )
    ramp.add_argument("--duration-s", type=int, default=1800, help="ramp length, seconds")
    ramp.add_argument("--levels", type=int, default=3, help="number of price levels")
    ramp.set_defaults(handler=_ramp)

    ev = commands.add_parser(
        "ev-plan", help="plan an EV charging session and print the schedule as JSON"
    )
    _add_terms(ev)
    ev.add_argument("--now", type=int, required=True, help="Unix seconds, UTC")
    ev.add_argument("--departure", type=int, required=True, help="Unix seconds, UTC")
    ev.add_argument("--energy-wh", type=int, required=True)
    ev.add_argument("--max-price", type=int, required=True, help="ticks")
    ev.add_argument("--min-power-w", type=int, default=1400)
    ev.add_argument("--max-power-w", type=int, default=7400)
    ev.add_argument("--no-grid-fallback", action="store_true", help="never plan grid charging")
    ev.add_argument(
        "--prices", help="JSON file (or - for stdin) of expected prices {slot_start: ticks}"
    )
    ev.set_defaults(handler=_ev_plan)
