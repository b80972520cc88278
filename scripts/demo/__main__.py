"""`make demo`: a neighbourhood trading in a real Home Assistant.

Starts N headless market nodes on loopback (simulated French households on an
accelerated clock), a real Home Assistant with the integration installed from the
release zip, a simulated Linky TIC meter on a pseudo-terminal (the real serial path)
and a simulated EV charger (an input boolean). The Home Assistant household joins the
neighbourhood with an invite through the real config flow, starts an EV session and
charges on its neighbours' surplus through the blueprint. Ctrl-C stops everything;
with --hours (or DEMO_HOURS) the demo ends by itself and prints the report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from market.meter.simulator import MeterSimulator, SimulatorConfig
from market.meter.sinks import PtySink
from market.sim.runner import Neighbourhood, SimConfig

from .hass import CORE_CONFIG, HassProcess, free_port, running_hass

ROOT = Path(__file__).resolve().parents[2]
ENV_SIM_CLOCK = "P2P_ENERGY_SIM_CLOCK"
USERNAME = "demo"
# What the simulated charger draws while the EV blueprint has it on (the session's
# maximum power, below).
EV_CHARGER_W = 7400

# What the demo's Home Assistant adds: the UI, history, a simulated EV charger.
DEMO_EXTRAS = """\
frontend:
history:
logbook:
recorder:
  commit_interval: 1
input_boolean:
  ev_charger:
    name: EV charger
    icon: mdi:ev-station
automation: !include automations.yaml
logger:
  default: warning
  logs:
    custom_components.p2p_energy: info
"""


@dataclass
class DemoState:
    """What the demo watched of the Home Assistant household."""

    bought_intervals: list[tuple[float, float | None]] = field(default_factory=list)
    charger_intervals: list[tuple[float, float | None]] = field(default_factory=list)
    last: dict[str, str] = field(default_factory=dict)
    charging: bool = False  # the EV charger is on now: the Linky counts its power

    def track(self, name: str, on: bool, now: float) -> None:
        intervals = self.bought_intervals if name == "bought" else self.charger_intervals
        was_on = bool(intervals) and intervals[-1][1] is None
        if on and not was_on:
            intervals.append((now, None))
        elif not on and was_on:
            intervals[-1] = (intervals[-1][0], now)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    env = os.environ
    parser.add_argument("--households", type=int, default=int(env.get("DEMO_HOUSEHOLDS", 12)))
    hours = env.get("DEMO_HOURS")
    parser.add_argument("--hours", type=float, default=float(hours) if hours else None)
    parser.add_argument("--speed", type=float, default=float(env.get("DEMO_SPEED", 120)))
    parser.add_argument("--port", type=int, default=int(env.get("DEMO_PORT", 8123)))
    parser.add_argument("--host", default=env.get("DEMO_HOST", "127.0.0.1"))
    parser.add_argument("--seed", type=int, default=int(env.get("DEMO_SEED", 1)))
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 6, 15))
    parser.add_argument("--start-hour", type=int, default=int(env.get("DEMO_START_HOUR", 9)))
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "demo")
    parser.add_argument("--summary", type=Path, help="write what happened as JSON here")
    return parser.parse_args()


def _install(config_dir: Path, build_dir: Path) -> None:
    """A fresh config dir with the release zip unpacked and the blueprints copied."""
    if config_dir.exists():
        shutil.rmtree(config_dir)
    config_dir.mkdir(parents=True)
    archive = build_dir / "p2p_energy.zip"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_release.py"), "--out", str(archive)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    target = config_dir / "custom_components" / "p2p_energy"
    target.mkdir(parents=True)
    with zipfile.ZipFile(archive) as release:
        release.extractall(target)
    blueprints = config_dir / "blueprints" / "automation" / "p2p_energy"
    blueprints.mkdir(parents=True)
    for blueprint in (ROOT / "blueprints" / "automation" / "p2p_energy").glob("*.yaml"):
        shutil.copy(blueprint, blueprints / blueprint.name)
    (config_dir / "automations.yaml").write_text("[]\n")


async def _run_meter(pty: PtySink, start_s: int, speed: float, watched: DemoState) -> None:
    """A producing Linky whose clock follows the neighbourhood's accelerated one, and
    which counts the EV charger's power while it is on (what the car really draws)."""
    simulator = MeterSimulator(
        SimulatorConfig(producer=True, pv_peak_w=6000, seed=7),
        datetime.fromtimestamp(start_s, UTC),
    )
    # A real Linky sends a frame every second or two; on the demo's fast clock that
    # would be minutes of market time, and the node must hear each slot boundary within
    # two (docs/settlement.md, "Readings"): a frame every minute of market time at most.
    period = min(simulator.period_s, 60 / speed)
    while True:
        simulator.extra_load_w = EV_CHARGER_W if watched.charging else 0
        pty.write(simulator.step(period * speed))
        await asyncio.sleep(period)


def _flow(hass: HassProcess, invite: str, port: int, pty_path: str) -> str:
    """Join the neighbourhood through the real config flow; returns the entry id."""
    flow = hass.request("POST", "/api/config/config_entries/flow", {"handler": "p2p_energy"})
    step = f"/api/config/config_entries/flow/{flow['flow_id']}"
    hass.request("POST", step, {"node_name": "Maison démo"})
    hass.request("POST", step, {"next_step_id": "join"})
    meter = hass.request("POST", step, {"invite_code": invite, "port": port})
    if meter.get("type") != "menu":
        raise RuntimeError(f"joining failed: {meter}")
    hass.request("POST", step, {"next_step_id": "tic"})
    hass.request("POST", step, {"serial_port": "manual", "tic_mode": "auto"})
    done = hass.request("POST", step, {"manual_path": pty_path, "tic_mode": "auto"})
    if done.get("type") != "create_entry":
        raise RuntimeError(f"the meter step failed: {done}")
    return str(done["result"]["entry_id"])


def _find_entity(hass: HassProcess, domain: str, part: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for state in hass.request("GET", "/api/states"):
            entity_id: str = state["entity_id"]
            if entity_id.startswith(f"{domain}.") and part in entity_id:
                return entity_id
        time.sleep(0.5)
    raise RuntimeError(f"no {domain} entity with {part!r} appeared")


def _automate(hass: HassProcess, entry_id: str, sim_now_s: int, bought_now: str) -> None:
    """The EV blueprint on the demo charger, and an EV session to plan."""
    hass.request(
        "POST",
        "/api/config/automation/config/demo_ev_on_surplus",
        {
            "alias": "Charge the EV on neighbours' surplus",
            "use_blueprint": {
                "path": "p2p_energy/ev_charge_on_surplus.yaml",
                "input": {"bought_now": bought_now, "charger": "input_boolean.ev_charger"},
            },
        },
    )
    departure = datetime.fromtimestamp(sim_now_s, UTC) + timedelta(hours=6)
    hass.request(
        "POST",
        "/api/services/p2p_energy/start_ev_session",
        {
            "config_entry_id": entry_id,
            "energy_kwh": 12,
            "departure": departure.isoformat(),
            "max_price": 0.19,
            "min_power_w": 1400,
            "max_power_w": EV_CHARGER_W,
        },
    )


def _state(hass: HassProcess, entity_id: str) -> dict[str, Any]:
    result: dict[str, Any] = hass.request("GET", f"/api/states/{entity_id}")
    return result


def _bought_for_the_car(bought: dict[str, Any]) -> bool:
    """Whether the household bought for this slot beyond its base load (what the
    consumption buyer bought): what the EV blueprint charges on."""
    if bought.get("state") != "on":
        return False
    by: dict[str, int] = bought.get("attributes", {}).get("bought_by") or {}
    return sum(by.values()) - by.get("buy_consumption", 0) > 0


async def _watch(
    hass: HassProcess, watched: DemoState, bought_now: str, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        now = time.monotonic()
        try:
            bought = await asyncio.to_thread(_state, hass, bought_now)
            charger = await asyncio.to_thread(_state, hass, "input_boolean.ev_charger")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            bought = charger = {"state": "unavailable"}
        watched.track("bought", _bought_for_the_car(bought), now)
        watched.track("charger", charger["state"] == "on", now)
        watched.charging = charger["state"] == "on"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


def _print_banner(hass: HassProcess, password: str, args: argparse.Namespace) -> None:
    url = f"http://{args.host}:{hass.port}"
    line = "=" * 64
    print(f"\n{line}\n  Home Assistant is up: {url}")
    print(f"  user: {USERNAME}    password: {password}")
    print(
        f"  {args.households} neighbours trade on loopback; 1 s = {args.speed:g} s of market time"
    )
    print("  Open Settings > Devices: 'Maison démo' and the community; Ctrl-C stops all.")
    print(f"{line}\n", flush=True)


async def _demo(args: argparse.Namespace) -> int:  # noqa: PLR0915 - one story, told in order
    build_dir = args.dir
    config_dir = build_dir / "config"
    await asyncio.to_thread(_install, config_dir, build_dir)
    nodes_dir = build_dir / "nodes"
    if nodes_dir.exists():
        shutil.rmtree(nodes_dir)
    sim = SimConfig(
        households=args.households,
        hours=24 * 365,  # the neighbourhood runs until the demo ends
        seed=args.seed,
        start=args.start,
        start_hour=args.start_hour,
        speed=args.speed,
        work_dir=nodes_dir,
    )
    neighbourhood = Neighbourhood(sim)
    await neighbourhood.open()
    assert neighbourhood.clock_spec is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pty = PtySink()
    watched = DemoState()
    tasks = [
        asyncio.create_task(neighbourhood.run()),
        asyncio.create_task(_run_meter(pty, sim.start_s - sim.terms.slot_s, args.speed, watched)),
    ]
    summary: dict[str, Any] = {}
    password = secrets.token_urlsafe(9)
    node_port = free_port()
    try:
        print("starting Home Assistant (about half a minute)...", flush=True)
        base = (
            CORE_CONFIG.replace("{name}", "P2P energy demo").replace("{host}", args.host)
            + DEMO_EXTRAS
        )
        # Home Assistant starts in a thread: the neighbours keep trading meanwhile.
        hass_stack = contextlib.ExitStack()
        hass = await asyncio.to_thread(
            hass_stack.enter_context,
            running_hass(
                config_dir,
                port=args.port,
                env={ENV_SIM_CLOCK: neighbourhood.clock_spec},
                base_config=base,
            ),
        )
        try:
            await asyncio.to_thread(hass.onboard, USERNAME, password)
            invite = neighbourhood.homes[0].node.create_invite()
            entry_id = await asyncio.to_thread(_flow, hass, invite, node_port, pty.path)
            for home in neighbourhood.homes:
                home.node.add_peer(f"127.0.0.1:{node_port}")
            bought_now = await asyncio.to_thread(
                _find_entity, hass, "binary_sensor", "buying_from_neighbours"
            )
            sim_now = neighbourhood.clock.now_ms() // 1000
            await asyncio.to_thread(_automate, hass, entry_id, sim_now, bought_now)
            _print_banner(hass, password, args)
            watcher = asyncio.create_task(_watch(hass, watched, bought_now, stop))
            if args.hours is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.hours * 3600 / args.speed)
            else:
                await stop.wait()
            stop.set()
            await watcher
            # the statement of the household's day, as an automation would ask for it
            answer = await asyncio.to_thread(
                hass.request,
                "POST",
                "/api/services/p2p_energy/get_statement?return_response",
                {"config_entry_id": entry_id, "period": "day"},
            )
            states = await asyncio.to_thread(hass.request, "GET", "/api/states")
            summary = {
                "statement": answer.get("service_response", {}),
                "entry_id": entry_id,
                "states": {
                    s["entity_id"]: s["state"]
                    for s in states
                    if "maison_demo" in s["entity_id"] or s["entity_id"].endswith("ev_charger")
                },
                "bought_intervals": watched.bought_intervals,
                "charger_intervals": watched.charger_intervals,
                "problems": hass.problems_of("p2p_energy", "market"),
            }
        finally:
            await asyncio.to_thread(hass_stack.close)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # report, then go on stopping the rest
                logging.getLogger(__name__).exception("demo task failed")
        await neighbourhood.close()
        await pty.close()
    report = neighbourhood.report
    print(report.summary_text())
    summary["report"] = dataclasses.asdict(report.summary()) if report.slots else {}
    if args.summary is not None:
        args.summary.write_text(json.dumps(summary, indent=2, default=str))
    print("demo stopped cleanly")
    return 0


def main() -> int:
    """Run the demo until Ctrl-C (or for --hours of market time)."""
    return asyncio.run(_demo(_parse_args()))


if __name__ == "__main__":
    sys.exit(main())
