"""The `python -m market ledger` subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from ..terms import CommunityTerms
from .codec import Entry
from .community import Community
from .equivocation import EquivocationProof
from .errors import InvalidBodyError, LedgerError
from .identity import load_or_create_identity
from .kinds import SIMPLE_DECODERS, Kind, Side, SimpleBody
from .store import DB_FILE_NAME, LedgerStore, now_ms
from .verify import verify_store

COMMUNITY_FILE_NAME = "community.json"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `ledger` command and its subcommands."""
    parser = subparsers.add_parser("ledger", help="inspect and verify a node's signed ledger")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
    commands = parser.add_subparsers(title="ledger commands", metavar="LEDGER_COMMAND")

    verify = commands.add_parser("verify", help="re-check every entry of a store")
    verify.add_argument("directory", type=Path, help="the node's data directory")
    verify.set_defaults(handler=_verify)

    show = commands.add_parser("show", help="list the entries of a store")
    show.add_argument("directory", type=Path, help="the node's data directory")
    show.add_argument("--author", help="only this author (hex public key or prefix)")
    show.add_argument("--kind", choices=[k.name.lower() for k in Kind], help="only this kind")
    show.add_argument("--limit", type=int, default=-1, help="at most this many entries")
    show.set_defaults(handler=_show)

    init = commands.add_parser(
        "init", help="create a node key and a new community whose genesis member it is"
    )
    init.add_argument("directory", type=Path, help="the node's data directory")
    init.add_argument("--name", required=True, help="community name")
    init.add_argument(
        "--member", action="append", default=[], help="another genesis member key (hex)"
    )
    init.add_argument(
        "--terms",
        type=Path,
        help="JSON file of market terms (slot_s, floor, ceiling, mechanism...); "
        "omitted keys take their defaults",
    )
    init.set_defaults(handler=_init)

    ident = commands.add_parser("id", help="print the node id and public key (creating them)")
    ident.add_argument("directory", type=Path, help="the node's data directory")
    ident.set_defaults(handler=_id)


def _verify(args: argparse.Namespace) -> int:
    try:
        report = verify_store(args.directory)
    except LedgerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"PROBLEM {problem}")
    print(
        f"{report.entries} entries from {report.authors} authors, "
        f"{report.equivocations} equivocation proofs, {len(report.problems)} problems"
    )
    return 1 if report.problems else 0


def describe_body(entry: Entry) -> str:
    """A one-line human description of an entry's body."""
    decoder = SIMPLE_DECODERS.get(entry.kind)
    try:
        if decoder is not None:
            return _fields(decoder.decode(entry.body))
        if entry.kind == Kind.EQUIVOCATION:
            proof = EquivocationProof.decode(entry.body)
            return f"author={proof.author.hex()[:16]} seq={proof.seq}"
        if entry.kind == Kind.GENESIS:
            community = Community.from_bytes(entry.body)
            terms = community.terms
            return (
                f"name={community.name!r} members={len(community.genesis_members)} "
                f"slot_s={terms.slot_s} mechanism={terms.mechanism}"
            )
    except (InvalidBodyError, LedgerError) as err:
        return f"<invalid body: {err}>"
    return f"<{len(entry.body)} bytes>"


def _fields(body: SimpleBody) -> str:
    parts = []
    for item in dataclasses.fields(body):
        value = getattr(body, item.name)
        if isinstance(value, bytes):
            text = value.hex()[:16]
        elif isinstance(value, Side):
            text = value.name.lower()
        else:
            text = str(value)
        parts.append(f"{item.name}={text}")
    return " ".join(parts)


def _kind_name(kind: int) -> str:
    try:
        return Kind(kind).name.lower()
    except ValueError:
        return str(kind)


def _show(args: argparse.Namespace) -> int:
    path = args.directory / DB_FILE_NAME
    try:
        store = LedgerStore.open_existing(path)
    except LedgerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        kind = None if args.kind is None else Kind[args.kind.upper()]
        entries = store.entries(kind=kind, limit=args.limit if args.author is None else -1)
    finally:
        store.close()
    if args.author is not None:
        prefix = args.author.lower()
        entries = [e for e in entries if e.author.hex().startswith(prefix)]
        if args.limit >= 0:
            entries = entries[: args.limit]
    for entry in entries:
        when = dt.datetime.fromtimestamp(entry.timestamp_ms / 1000, tz=dt.UTC)
        print(
            f"{entry.author.hex()[:16]} {entry.seq:>6} {when:%Y-%m-%dT%H:%M:%S.%f}"[:-3]
            + f"Z {_kind_name(entry.kind):<12} {entry.hash.hex()[:16]} {describe_body(entry)}"
        )
    return 0


def _init(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    identity = load_or_create_identity(directory)
    try:
        terms = CommunityTerms()
        if args.terms is not None:
            terms = CommunityTerms.from_json_obj(json.loads(args.terms.read_text()))
        members = [identity.public_key, *(bytes.fromhex(key) for key in args.member)]
        community = Community.create(args.name, now_ms(), members, terms)
    except (OSError, TypeError, ValueError, LedgerError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    (directory / COMMUNITY_FILE_NAME).write_text(community.to_json() + "\n")
    store = LedgerStore(directory / DB_FILE_NAME, community, identity)
    store.close()
    print(f"community {community.community_id.hex()}")
    print(f"node {identity.node_id} key {identity.public_key.hex()}")
    return 0


def _id(args: argparse.Namespace) -> int:
    identity = load_or_create_identity(args.directory)
    print(f"node {identity.node_id} key {identity.public_key.hex()}")
    return 0
