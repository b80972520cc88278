"""`python -m market control`: a headless node's membership and status from a shell,
through its control socket (`market node --control-socket PATH`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from .control import ControlClient, ControlError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `control` to the market CLI."""
    control = subparsers.add_parser(
        "control",
        help="ask a running node (its control socket) for its status, or to leave, "
        "rotate its key or vote to remove a member or replace its lost key",
        description="Talk to a running node through its --control-socket.",
    )
    control.add_argument("--socket", type=Path, required=True, help="the node's control socket")
    actions = control.add_subparsers(title="actions", dest="action", required=True)
    actions.add_parser("status", help="the node's status, as JSON")
    surplus = actions.add_parser(
        "surplus", help="the energy offered in the next open slots that no bid would take"
    )
    surplus.add_argument("--count", type=int, default=8, help="how many slots (at most 96)")
    leave = actions.add_parser("leave", help="leave the community (the key stops counting)")
    leave.add_argument(
        "--confirm-timeout",
        type=float,
        default=30.0,
        help="wait this long at most for a neighbour to hold the revoke (seconds)",
    )
    actions.add_parser("rotate-key", help="hand the membership on to a new key, then restart")
    remove = actions.add_parser("remove", help="vote to remove a member's household")
    remove.add_argument("key", help="the member's key (64 hex digits)")
    replace = actions.add_parser(
        "replace", help="vote to replace a household's lost key by the new key it joined with"
    )
    replace.add_argument("key", help="the lost key (64 hex digits)")
    replace.add_argument("successor", help="the household's new key (64 hex digits)")
    control.set_defaults(handler=_run)


async def _ask(args: argparse.Namespace) -> Any:
    async with ControlClient(args.socket) as client:
        if args.action == "leave":
            return await client.leave(args.confirm_timeout)
        if args.action == "surplus":
            return await client.surplus(args.count)
        if args.action == "rotate-key":
            return await client.rotate_key()
        if args.action == "remove":
            return await client.vote_to_remove(args.key)
        if args.action == "replace":
            return await client.vote_to_replace(args.key, args.successor)
        return await client.status()


def _run(args: argparse.Namespace) -> int:
    try:
        answer = asyncio.run(_ask(args))
    except ControlError as err:
        print(f"refused: {err.reason}: {err.detail}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot reach the node at {args.socket}: {err}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2, sort_keys=True))
    return 0
