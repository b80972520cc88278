"""The `python -m market tic` subcommands: decode, simulate, read."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from .decoder import TicDecoder
from .errors import InvalidModeError, MeterError
from .frame import Frame, Mode, parse_mode
from .reader import TicReader
from .simulator import MeterSimulator, SimulatorConfig, run_simulator
from .sinks import PtySink, Sink, StreamSink, TcpSink

_CHUNK = 4096


def _mode(value: str) -> Mode | None:
    try:
        return parse_mode(value)
    except InvalidModeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _baudrate(value: str) -> int | str:
    if value == "auto":
        return value
    if value in ("1200", "9600"):
        return int(value)
    raise argparse.ArgumentTypeError(f"invalid baud rate {value!r}: 1200, 9600 or auto")


def _print_frame(frame: Frame) -> None:
    print(json.dumps(frame.to_json_obj(), ensure_ascii=False), flush=True)


def _decode(args: argparse.Namespace) -> int:
    decoder = TicDecoder(args.mode)
    stream: BinaryIO
    try:
        stream = sys.stdin.buffer if args.file == "-" else Path(args.file).open("rb")  # noqa: SIM115
    except OSError as err:
        print(f"tic decode: cannot read {args.file!r}: {err.strerror}", file=sys.stderr)
        return 2
    try:
        with stream:
            while chunk := stream.read(_CHUNK):
                for frame in decoder.feed(chunk):
                    _print_frame(frame)
    except BrokenPipeError:
        # The consumer (`head`, a closed pager) has all it wanted.
        sys.stdout = Path(os.devnull).open("w")  # noqa: SIM115
    stats = decoder.stats
    print(
        f"frames={stats.frames} datasets_ok={stats.datasets_ok} "
        f"datasets_bad={stats.datasets_bad_total}",
        file=sys.stderr,
    )
    return 0


async def _simulate_async(args: argparse.Namespace) -> int:
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    config = SimulatorConfig(
        mode=args.mode, producer=args.producer, phases=args.phases, seed=args.seed
    )
    simulator = MeterSimulator(config, start)
    sink: Sink
    if args.pty:
        pty = PtySink()
        print(pty.path, flush=True)
        sink = pty
    elif args.tcp is not None:
        tcp = TcpSink()
        await tcp.start(args.host, args.tcp)
        print(f"socket://{args.host}:{tcp.port}", flush=True)
        sink = tcp
    else:
        sink = StreamSink(sys.stdout.buffer)
    try:
        await run_simulator(simulator, sink, frames=args.frames, period_s=args.period)
    finally:
        await sink.close()
    return 0


def _simulate(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_simulate_async(args))
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as err:
        print(f"tic simulate: {err}", file=sys.stderr)
        return 2


async def _read_async(args: argparse.Namespace) -> int:
    reader = TicReader(args.port, baudrate=args.baudrate, mode=args.mode, framing=args.framing)

    def on_update(snapshot: Any) -> None:
        if snapshot.frame is None:
            status = snapshot.status
            print(f"tic read: {status.state} {status.last_error or ''}".rstrip(), file=sys.stderr)

    reader.add_listener(on_update)
    await reader.start()
    count = 0
    try:
        async for frame in reader.frames():
            _print_frame(frame)
            count += 1
            if args.frames is not None and count >= args.frames:
                break
    finally:
        await reader.stop()
    return 0


def _read(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_read_async(args))
    except KeyboardInterrupt:
        return 0
    except MeterError as err:
        print(f"tic read: {err}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `tic` command and its subcommands."""
    parser = subparsers.add_parser("tic", help="decode and simulate Linky TIC meter data")
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 0)[1])
    sub = parser.add_subparsers(title="tic commands", metavar="SUBCOMMAND")

    decode = sub.add_parser(
        "decode",
        help="decode a TIC capture into JSON lines",
        description="Print one JSON object per valid frame, then a summary line on stderr.",
    )
    decode.add_argument("file", metavar="FILE", help="capture file, or - for stdin")
    decode.add_argument(
        "--mode", type=_mode, default=None, help="auto (default), historic or standard"
    )
    decode.set_defaults(handler=_decode)

    simulate = sub.add_parser(
        "simulate",
        help="emit realistic frames at the real rate",
        description="Simulate a Linky meter on a pty, a TCP port, or stdout (default).",
    )
    simulate.add_argument("--mode", type=Mode, choices=list(Mode), default=Mode.STANDARD)
    simulate.add_argument("--producer", action="store_true", help="add PV injection")
    simulate.add_argument("--phases", type=int, choices=(1, 3), default=1)
    target = simulate.add_mutually_exclusive_group()
    target.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal")
    target.add_argument("--tcp", type=int, metavar="PORT", help="serve on TCP (0: any port)")
    simulate.add_argument("--host", default="127.0.0.1", help="TCP address (default 127.0.0.1)")
    simulate.add_argument("--frames", type=int, default=None, help="stop after N frames")
    simulate.add_argument(
        "--period", type=float, default=None, help="seconds between frames (default: real rate)"
    )
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--start", default=None, help="simulated start time, ISO 8601")
    simulate.set_defaults(handler=_simulate)

    read = sub.add_parser(
        "read",
        help="read a live dongle and print frames as JSON lines",
        description="Read /dev/... or socket:// or rfc2217:// and print each valid frame.",
    )
    read.add_argument("port", metavar="PORT")
    read.add_argument("--baudrate", type=_baudrate, default="auto")
    read.add_argument("--mode", type=_mode, default=None)
    read.add_argument("--framing", choices=("7E1", "8N1"), default="7E1")
    read.add_argument("--frames", type=int, default=None, help="stop after N frames")
    read.set_defaults(handler=_read)
