"""`python -m market node` (a headless node) and `python -m market invite`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from ..agents import ConsumptionBuyerAgent, HouseholdLimits, Observation, PvSellerAgent, Reading
from ..logflood import CollapseFilter
from ..tariff import TARIFF_PRESETS, Tariff, tariff_of_contract
from ..terms import CommunityTerms, InvalidCommunityTermsError
from . import control_cli
from .clock import ScaledClock
from .config import NodeConfig
from .control import ControlApi
from .datadir import DataDir
from .errors import InviteError, NodeError
from .events import NodeEvent
from .node import Node
from .readings import reading_from_meter
from .setup import create_community, join_with_invite

if TYPE_CHECKING:
    from ..meter import MeterSnapshot

_LOGGER = logging.getLogger("market.node")
_READINGS_KEPT = 32


class LogfmtFormatter(logging.Formatter):
    """One `key=value` line per record: greppable, and parsed by log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}))
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return " ".join(f"{key}={_logfmt(value)}" for key, value in fields.items())


def _logfmt(value: object) -> str:
    text = str(value)
    if text and not any(char in text for char in ' "=\n\t'):
        return text
    return json.dumps(text)


def _split_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `node` and `invite` to the market CLI."""
    node = subparsers.add_parser(
        "node",
        help="run a headless market node until SIGTERM",
        description="Run a household's market node: gossip, clearing, seals and agents.",
    )
    node.add_argument("--data-dir", type=Path, required=True, help="the node's directory")
    node.add_argument(
        "--listen",
        type=_split_address,
        default=("0.0.0.0", 8765),  # noqa: S104 - a node serves its LAN neighbours
        help="HOST:PORT to serve",
    )
    node.add_argument("--advertise", help="address given to neighbours (default: LAN address)")
    node.add_argument(
        "--peer", action="append", default=[], help="HOST:PORT of a neighbour (repeatable)"
    )
    node.add_argument("--meter", help="tic:PATH (Linky TIC dongle or socket:// URL) or sim")
    node.add_argument(
        "--name",
        default="",
        help="a name for this node in its own log (never announced: neighbours know a "
        "node by its address and key)",
    )
    setup = node.add_mutually_exclusive_group()
    setup.add_argument("--join", metavar="INVITE", help="join with a neighbour's invite code")
    setup.add_argument("--create", metavar="NAME", help="create a community")
    node.add_argument("--terms", help="market terms of a new community, as JSON")
    node.add_argument("--no-zeroconf", action="store_true", help="do not announce on the LAN")
    node.add_argument(
        "--zeroconf-interface",
        action="append",
        default=[],
        metavar="IP",
        help="announce and browse only on this interface address (repeatable)",
    )
    node.add_argument(
        "--sim-clock",
        type=ScaledClock.parse,
        metavar="START_S:ANCHOR_S:SPEED",
        help="run on an accelerated clock that reads START_S at wall time ANCHOR_S "
        "(demos and tests; every node of the neighbourhood must get the same value)",
    )
    node.add_argument(
        "--control-socket",
        type=Path,
        metavar="PATH",
        help="serve the host's control API (orders, book, outcomes, status) on this "
        "Unix socket (mode 0600)",
    )
    node.add_argument(
        "--tariff",
        choices=["auto", *sorted(TARIFF_PRESETS)],
        default="auto",
        help="the household's grid contract, for its agents' limits and its statements "
        "(auto: the one the Linky names; without a meter, the community's ceiling and floor)",
    )
    node.add_argument(
        "--no-consumption-buyer",
        dest="consumption_buyer",
        action="store_false",
        help="with a meter, do not bid for the household's expected import (learned from "
        "its own readings); its PV surplus is still offered",
    )
    node.add_argument("--log-level", default="info")
    node.set_defaults(handler=_run_node)

    invite = subparsers.add_parser(
        "invite",
        help="print a single-use invite code for a neighbour",
        description="Sign an invite with this node's key; the running node redeems it.",
    )
    invite.add_argument("--data-dir", type=Path, required=True)
    invite.add_argument("--ttl", type=int, default=86_400, help="validity in seconds")
    invite.set_defaults(handler=_print_invite)
    control_cli.register(subparsers)


def _print_invite(args: argparse.Namespace) -> int:
    from .invite import create_invite  # noqa: PLC0415

    data = DataDir(args.data_dir)
    try:
        community = data.community()
        identity = data.identity()
    except NodeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    address = data.address()
    if address is None:
        print(f"error: no running node has recorded its address in {data.path}", file=sys.stderr)
        return 2
    invite = create_invite(identity, community, address, now_s=int(time.time()), ttl_s=args.ttl)
    print(invite.encode())
    return 0


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard one; returns (before, after).

    Each connection costs an fd: at the usual soft limit of 1,024 a flood of connections
    exhausts them long before memory (the guard caps connections below the limit).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, hard


def collapse_asyncio_floods(interval_s: float = 60.0) -> CollapseFilter:
    """One line per cause per interval from the `asyncio` logger: out of fds, its accept
    loop logs 'socket.accept() out of system resource' for every pending connection.
    Only in the headless node's own process; Home Assistant's logging stays its own."""
    flood_filter = CollapseFilter(interval_s)
    logging.getLogger("asyncio").addFilter(flood_filter)
    return flood_filter


def _run_node(args: argparse.Namespace) -> int:
    handler = logging.StreamHandler()
    handler.setFormatter(LogfmtFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    collapse_asyncio_floods()
    before, after = raise_fd_limit()
    _LOGGER.info("open files limit %d (was %d)", after, before)
    try:
        return asyncio.run(_node_main(args))
    except (NodeError, InviteError, InvalidCommunityTermsError) as err:
        _LOGGER.error("cannot start: %s", err)  # noqa: TRY400 - a clear reason, no trace
        return 2


async def _setup(args: argparse.Namespace, session: aiohttp.ClientSession) -> None:
    data = DataDir(args.data_dir)
    if (args.create or args.join) and data.has_community():
        _LOGGER.info("the data dir already holds a community; --create/--join ignored")
        return
    now_ms = int(time.time() * 1000)
    if args.create:
        terms = CommunityTerms.from_json_obj(json.loads(args.terms)) if args.terms else None
        # created_ms is read against entry timestamps (admits, the first electorate), so
        # it follows the clock that stamps them: the accelerated one when there is one
        created_ms = now_ms if args.sim_clock is None else args.sim_clock.now_ms()
        community = await create_community(
            data, args.create, terms or CommunityTerms(), now_ms=created_ms
        )
        _LOGGER.info("created community %r", community.name)
    elif args.join:
        invite, _result = await join_with_invite(data, args.join, session, now_ms=now_ms)
        _LOGGER.info("joined community %r through %s", invite.community.name, invite.address)


async def _node_main(args: argparse.Namespace) -> int:
    host, port = args.listen
    async with aiohttp.ClientSession() as session:
        await _setup(args, session)
        zeroconf = None
        if not args.no_zeroconf:
            from ..gossip.discovery import open_zeroconf  # noqa: PLC0415

            try:
                zeroconf = (
                    open_zeroconf(args.zeroconf_interface)
                    if args.zeroconf_interface
                    else open_zeroconf()
                )
            except OSError as err:
                _LOGGER.warning("zeroconf unavailable (%s); static peers only", err)
        config = NodeConfig(
            data_dir=args.data_dir,
            host=host,
            port=port,
            advertise_host=args.advertise,
            peers=tuple(args.peer),
        )
        node = await Node.open(config, clock=args.sim_clock, session=session, zeroconf=zeroconf)
        tariff = TARIFF_PRESETS.get(args.tariff)
        node.set_tariff(tariff)
        simulated = getattr(args, "simulated_household", None)
        meter = await _attach_meter(
            node, args.meter, simulated, tariff, consumption_buyer=args.consumption_buyer
        )
        node.subscribe(_log_event)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        control = ControlApi(node)
        try:
            await node.start()
            if args.control_socket is not None:
                await control.start(args.control_socket)
            _LOGGER.info(
                "node running",
                extra={
                    "fields": {
                        "name": args.name,
                        "node": node.identity.node_id,
                        "address": node.address,
                        "chain": node.status().chain,
                    }
                },
            )
            await stop.wait()
        finally:
            _LOGGER.info("stopping")
            await control.stop()
            if meter is not None:
                await meter.stop()
            await node.stop()
            if zeroconf is not None:
                await zeroconf.async_close()
    _LOGGER.info("stopped cleanly")
    return 0


def _log_event(event: NodeEvent) -> None:
    fields: dict[str, Any] = {"event": type(event).__name__}
    for name in getattr(event, "__slots__", ()):
        value = getattr(event, name)
        fields[name] = len(value) if isinstance(value, tuple | dict) else value
    _LOGGER.info("event", extra={"fields": fields})


class _MeterReadings:
    """Keeps the last readings of a meter for the agents' forecasts, and hands the
    node the energy indexes it signs slot readings from."""

    def __init__(self, node: Node, limits: HouseholdLimits, *, follow_contract: bool) -> None:
        self.node = node
        self.limits = limits
        self.readings: deque[Reading] = deque(maxlen=_READINGS_KEPT)
        # --tariff auto: the contract the meter names prices the statements
        self._follow_contract = follow_contract
        self._contract: str | None = None

    def on_snapshot(self, snapshot: MeterSnapshot) -> None:
        now_s = self.node.clock.now_ms() // 1000
        reading = reading_from_meter(snapshot, now_s)
        if reading is not None:
            self.readings.append(reading)
        self.node.record_meter_snapshot(now_s, snapshot)
        option = None if snapshot.meter is None else snapshot.meter.tariff_option
        if self._follow_contract and option is not None and option != self._contract:
            self._contract = option
            tariff = tariff_of_contract(option)
            self.node.set_tariff(tariff)
            # and the agents' limits: never a bid above this contract's import price
            self.limits = replace(self.limits, tariff=tariff)
            for agent_id in self.node.agent_ids():
                agent = self.node.agent(agent_id)
                if isinstance(agent, (PvSellerAgent, ConsumptionBuyerAgent)):
                    agent.set_limits(self.limits)

    def observe(self, now_s: int) -> Observation:
        # the import its Linky measured is already net of its PV: the deficit to buy
        return Observation(readings=tuple(self.readings), demand=self.node.demand_forecast(now_s))


# `--meter sim`: given a seed and the slot length, the observations of a simulated
# household. The simulator sits above the node; the command line, above both, hands it
# down (market.cli), so that the node never imports the simulator.
SimulatedHousehold = Callable[[int, int], Callable[[int], Observation]]


async def _attach_meter(
    node: Node,
    spec: str | None,
    simulated: SimulatedHousehold | None = None,
    tariff: Tariff | None = None,
    *,
    consumption_buyer: bool = True,
) -> Any:
    if spec is None:
        return None
    limits = HouseholdLimits(
        max_buy_price=node.terms.ceiling,
        min_sell_price=node.terms.floor,
        max_import_w=12_000,
        max_export_w=9_000,
        tariff=tariff,
    )
    if spec == "sim":
        if simulated is None:
            raise NodeError("--meter sim needs the simulator: run `python -m market node`")
        seed = int.from_bytes(node.identity.public_key[:4], "big")
        source = simulated(seed, node.terms.slot_s)
        node.set_observation_source(source)
        _add_agents(node, limits, consumption_buyer=consumption_buyer)
        return None
    if not spec.startswith("tic:"):
        raise NodeError(f"--meter must be tic:PATH or sim, got {spec!r}")
    from ..meter import TicReader  # noqa: PLC0415

    readings = _MeterReadings(node, limits, follow_contract=tariff is None)
    reader = TicReader(spec.removeprefix("tic:"))
    reader.add_listener(readings.on_snapshot)
    await reader.start()
    node.set_observation_source(readings.observe)
    _add_agents(node, limits, consumption_buyer=consumption_buyer)
    _LOGGER.info("meter %s", reader.status)
    return reader


def _add_agents(node: Node, limits: HouseholdLimits, *, consumption_buyer: bool) -> None:
    """A metered household's agents: the PV seller, and (unless switched off) the
    consumption buyer, with the ids the simulator gives them."""
    node.add_agent(PvSellerAgent("pv", node.terms, limits))
    if consumption_buyer:
        node.add_agent(ConsumptionBuyerAgent("load", node.terms, limits))
