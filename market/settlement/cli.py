"""`python -m market statement DATA_DIR`: a node's statements, certificates and, for the
ACC organiser, allocation keys, from the settled slots its data dir holds.

Read only: the store opens read-only and the node key is read, never created, so it
can run beside the node (or as another user with read access).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import jsontext
from ..ledger.cli import COMMUNITY_FILE_NAME
from ..ledger.community import Community
from ..ledger.errors import IdentityError, InvalidCommunityError
from ..ledger.identity import read_identity
from ..tariff import GridPrices
from ..terms import CommunityTerms
from . import render
from .acc import ACC_DIGITS, AccStepError, SkippedStep, acc_keys
from .certificates import Certificate, Deliveries, issue
from .period import Period, PeriodKind
from .records import SettledSlot
from .statement import community_statement, household_statement
from .store import FILE_NAME, SettlementStore, SettlementStoreError

FORMATS = ("table", "json", "csv")
_SHOWN_SKIPS = 5


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `statement` command."""
    parser = subparsers.add_parser(
        "statement",
        help="a household's (or the community's) settled day or month",
        description="Print what settlement made of a local day or month (Europe/Paris): "
        "energy and money, local and grid, savings against the grid alone, the local "
        "energy usage rate and green certificates. Money is in currency units in the "
        "table and CSV, integers (Wh x ticks) in JSON.",
    )
    parser.add_argument("directory", type=Path, help="the node's data directory")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--day", help="a local day, YYYY-MM-DD (default: today)")
    when.add_argument("--month", help="a local month, YYYY-MM")
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument(
        "--community", action="store_true", help="the community's statement (no one named)"
    )
    parser.add_argument(
        "--certificates",
        action="store_true",
        help="list green certificates: those earned in --day/--month, else all to date",
    )
    parser.add_argument(
        "--acc-keys",
        action="store_true",
        help="CSV of allocation coefficients per consumer per 30-minute step, for the "
        "ACC organiser (PMO)",
    )
    parser.add_argument(
        "--participants",
        type=Path,
        help="with --acc-keys: the organiser's JSON file mapping node keys (hex) to "
        "participant identifiers (PRM numbers)",
    )
    parser.add_argument(
        "--acc-step-min",
        type=int,
        choices=(15, 30),
        default=30,
        help="with --acc-keys: the step in minutes (default 30)",
    )
    parser.add_argument(
        "--acc-digits",
        type=int,
        default=ACC_DIGITS,
        help=f"with --acc-keys: decimals of the coefficients (default {ACC_DIGITS})",
    )
    parser.set_defaults(handler=_statement)


class _UsageError(Exception):
    """Something the user can fix: printed as `error: ...`, exit code 2."""


@dataclass(frozen=True, slots=True)
class _Context:
    directory: Path
    terms: CommunityTerms
    period: Period
    chosen: bool  # --day or --month given
    history: list[SettledSlot]  # every settled slot up to the period's end
    store: SettlementStore

    @property
    def reference(self) -> GridPrices:
        return GridPrices(self.terms.ceiling, self.terms.floor)


def _statement(args: argparse.Namespace) -> int:
    try:
        context = _open(args)
    except _UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if args.acc_keys:
            text = _acc(args, context)
        elif args.certificates:
            text = _certificates(args, context)
        elif args.community:
            text = _community(args, context)
        else:
            text = _household(args, context)
    except (_UsageError, SettlementStoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        context.store.close()
    sys.stdout.write(text)
    return 0


def _open(args: argparse.Namespace) -> _Context:
    directory: Path = args.directory
    try:
        period = Period.parse(args.day or args.month) if args.day or args.month else None
    except ValueError as err:
        raise _UsageError(str(err)) from err
    if not (directory / FILE_NAME).is_file():
        raise _UsageError(
            f"{directory} holds no settlement store ({FILE_NAME}): not a node's data "
            "directory, or its node has not settled a slot yet"
        )
    try:
        community = Community.load(directory / COMMUNITY_FILE_NAME)
    except (OSError, InvalidCommunityError) as err:
        raise _UsageError(f"cannot read the community descriptor in {directory}: {err}") from err
    try:
        store = SettlementStore.in_dir(directory, read_only=True)
    except SettlementStoreError as err:
        raise _UsageError(str(err)) from err
    chosen = period is not None
    if period is None:
        period = Period.today(int(time.time()))
    try:
        span = store.span()
        history = [] if span is None else store.slots(span[0], period.end)
    except SettlementStoreError as err:
        store.close()
        raise _UsageError(str(err)) from err
    return _Context(directory, community.terms, period, chosen, history, store)


def _household_id(directory: Path) -> str:
    try:
        return read_identity(directory).public_key.hex()
    except (OSError, IdentityError) as err:
        raise _UsageError(f"cannot read the node key in {directory}: {err}") from err


def _household(args: argparse.Namespace, context: _Context) -> str:
    household = _household_id(context.directory)
    own = context.store.own(context.period.start, context.period.end)
    deliveries = Deliveries.of(context.history)
    statements = [
        household_statement(
            period,
            context.history,
            own,
            household,
            reference=context.reference,
            delivered_before_wh=deliveries.before(household, period.start),
        )
        for period in _periods(context.period)
    ]
    currency = context.terms.currency
    month = statements[-1]
    if args.format == "json":
        obj: dict[str, Any] = {"currency": currency, "statement": month.to_json_obj()}
        if len(statements) > 1:
            obj["days"] = [s.to_json_obj() for s in statements[:-1]]
        return json.dumps(obj, indent=2) + "\n"
    if args.format == "csv":
        return render.household_csv(statements, currency)
    return render.household_table(month, currency)


def _community(args: argparse.Namespace, context: _Context) -> str:
    deliveries = Deliveries.of(context.history)
    statements = [
        community_statement(
            period,
            context.history,
            reference=context.reference,
            delivered_before={p: deliveries.before(p, period.start) for p in deliveries.slots},
        )
        for period in _periods(context.period)
    ]
    currency = context.terms.currency
    month = statements[-1]
    if args.format == "json":
        obj: dict[str, Any] = {"currency": currency, "statement": month.to_json_obj()}
        if len(statements) > 1:
            obj["days"] = [s.to_json_obj() for s in statements[:-1]]
        return json.dumps(obj, indent=2) + "\n"
    if args.format == "csv":
        return render.community_csv(statements, currency)
    return render.community_table(month, currency)


def _periods(period: Period) -> list[Period]:
    # A month's CSV and JSON carry its days too: the month comes last.
    return [period] if period.kind is PeriodKind.DAY else [*period.days(), period]


def _certificates(args: argparse.Namespace, context: _Context) -> str:
    issued = issue(context.history)
    if args.community:
        certificates: list[Certificate] = [c for p in sorted(issued) for c in issued[p]]
    else:
        certificates = list(issued.get(_household_id(context.directory), ()))
    if context.chosen:
        certificates = [c for c in certificates if context.period.holds(c.last_slot)]
    if args.format == "json":
        return (
            json.dumps({"certificates": [c.to_json_obj() for c in certificates]}, indent=2) + "\n"
        )
    if args.format == "csv":
        return render.certificates_csv(certificates, context.period.zone)
    return render.certificates_table(certificates, context.period.zone)


def _acc(args: argparse.Namespace, context: _Context) -> str:
    if args.participants is None:
        raise _UsageError("--acc-keys needs --participants MAP.json (node key -> PRM)")
    if not 0 <= args.acc_digits <= 12:
        raise _UsageError("--acc-digits must be 0..12")
    identifiers = _participants(args.participants)
    try:
        keys = acc_keys(
            context.history,
            context.period,
            slot_s=context.terms.slot_s,
            step_s=args.acc_step_min * 60,
            until=int(time.time()),
        )
    except AccStepError as err:
        raise _UsageError(str(err)) from err
    for consumer in sorted({key.consumer for key in keys.keys} - set(identifiers)):
        print(
            f"warning: {args.participants} maps no identifier to key {consumer}: its rows "
            f"use {render.unmapped_label(consumer)}",
            file=sys.stderr,
        )
    _report_skipped(keys.skipped, context.period.zone)
    return render.acc_csv(keys, identifiers, digits=args.acc_digits, zone=context.period.zone)


def _participants(path: Path) -> dict[str, str]:
    try:
        raw = jsontext.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise _UsageError(f"cannot read the participants file {path}: {err}") from err
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in raw.items()
    ):
        raise _UsageError(
            f"{path} must be a JSON object of node key (hex) -> participant identifier"
        )
    return {key.lower(): value for key, value in raw.items()}


def _report_skipped(skipped: Sequence[SkippedStep], zone: str) -> None:
    by_reason: dict[str, list[int]] = {}
    for step in skipped:
        by_reason.setdefault(step.reason, []).append(step.step)
    for reason, steps in sorted(by_reason.items()):
        shown = ", ".join(render.local_iso(step, zone) for step in steps[:_SHOWN_SKIPS])
        more = f" and {len(steps) - _SHOWN_SKIPS} more" if len(steps) > _SHOWN_SKIPS else ""
        print(f"warning: steps left out ({reason}, {len(steps)}): {shown}{more}", file=sys.stderr)
