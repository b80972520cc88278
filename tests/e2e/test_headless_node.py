"""`python -m market node` runs as a real process, trades with a second node, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from zeroconf.asyncio import AsyncServiceInfo

from market.gossip import GossipConfig
from market.gossip.discovery import (
    SERVICE_TYPE,
    NodeAnnouncement,
    ZeroconfBrowser,
    open_zeroconf,
)
from market.ledger import Kind, Ledger
from market.ledger.identity import KEY_FILE_NAME
from market.model import Side
from market.node import DataDir, Node, NodeConfig, ScaledClock, SlotCleared
from market.node.setup import join_with_invite

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SPEED = 120  # a 15-minute slot passes in 7.5 s
# Midsummer noon in Lyon: the simulated household has surplus to sell.
SIM_START_S = int(datetime(2026, 6, 21, 10, 0, tzinfo=UTC).timestamp())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _market(*args: str) -> list[str]:
    return [sys.executable, "-m", "market", *args]


async def _wait_for(check: object, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_headless_node_trades_with_a_second_node_and_stops_cleanly(tmp_path: Path) -> None:
    anchor_s = int(time.time())
    sim_clock = f"{SIM_START_S}:{anchor_s}:{SPEED}"
    port = _free_port()
    seller_dir = tmp_path / "seller"
    # The simulated household is drawn from the node's key, weather included: with a
    # fresh key, about one in a hundred had no surplus in the slots the buyer bids for.
    # This key's household has 220-360 Wh to sell in every slot of the test's hours.
    seller_dir.mkdir(mode=0o700)
    (seller_dir / KEY_FILE_NAME).write_bytes(hashlib.sha256(b"seller").digest())
    (seller_dir / KEY_FILE_NAME).chmod(0o600)
    log_path = tmp_path / "seller.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log_path.open("w") as log:
        seller = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, waited on below
            _market(
                "node",
                "--data-dir",
                str(seller_dir),
                "--listen",
                f"127.0.0.1:{port}",
                "--create",
                "Rue des Tests",
                "--meter",
                "sim",
                "--no-zeroconf",
                "--sim-clock",
                sim_clock,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    buyer: Node | None = None
    try:
        await _wait_for(lambda: "node running" in log_path.read_text(), 30, "the node to start")
        invite = subprocess.run(  # noqa: ASYNC221 - a short CLI call
            _market("invite", "--data-dir", str(seller_dir)),
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        assert invite.startswith("p2pe1-")

        buyer_data = DataDir(tmp_path / "buyer")
        async with aiohttp.ClientSession() as session:
            await join_with_invite(buyer_data, invite, session, now_ms=int(time.time() * 1000))
        clock = ScaledClock(SIM_START_S * 1000, SPEED, anchor_s * 1000)
        buyer = await Node.open(
            NodeConfig(data_dir=buyer_data.path, port=0, gossip=GossipConfig(pull_interval_s=0.3)),
            clock=clock,
        )
        events: list[object] = []
        buyer.subscribe(events.append)
        await buyer.start()
        await _wait_for(
            lambda: buyer is not None and buyer.ledger.is_member(buyer.identity.public_key),
            20,
            "the admission to reach the buyer",
        )
        terms = buyer.terms
        first = terms.first_open_slot(clock.now_ms() // 1000 + 30)
        slots = [first + i * terms.slot_s for i in range(3)]
        for slot in slots:
            await buyer.place_order(Side.BUY, 3000, terms.ceiling, slot)

        def bought() -> int:
            return sum(e.bought_wh for e in events if isinstance(e, SlotCleared))

        await _wait_for(lambda: bought() > 0, 90, "a slot cleared with energy bought")
    finally:
        if buyer is not None:
            await buyer.stop()
        seller.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(seller.wait, 20)
    log_text = log_path.read_text()
    assert code == 0, log_text
    assert "stopped cleanly" in log_text
    assert json.loads((seller_dir / "node.json").read_text())["address"] == f"127.0.0.1:{port}"

    # The seller's ledger closed cleanly and holds its seals and the buyer's orders.
    seller_data = DataDir(seller_dir)
    ledger = await Ledger.open(seller_data.ledger_dir, seller_data.community(), None)
    try:
        seals = await ledger.entries(author=seller_data.identity().public_key, kind=Kind.SEAL)
        orders = await ledger.entries(kind=Kind.ORDER)
    finally:
        await ledger.close()
    assert seals
    assert {entry.author for entry in orders} >= {buyer_data.identity().public_key}


async def test_headless_node_announces_itself_by_zeroconf_until_it_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log_path = tmp_path / "node.log"
    with log_path.open("w") as log:
        node = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, waited on below
            _market(
                "node",
                "--data-dir",
                str(data_dir),
                "--listen",
                f"127.0.0.1:{port}",
                "--create",
                "Rue Zeroconf",
                "--name",
                "Maison Dupont",
                "--zeroconf-interface",
                "127.0.0.1",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    found: list[NodeAnnouncement] = []
    gone: list[str] = []
    aiozc = open_zeroconf(["127.0.0.1"])
    try:
        await _wait_for(lambda: "node running" in log_path.read_text(), 30, "the node to start")
        data = DataDir(data_dir)
        community_id = data.community().community_id
        browser = ZeroconfBrowser(aiozc, community_id, b"\0" * 32, found.append, gone.append)
        await browser.start()
        await _wait_for(lambda: bool(found), 20, "the announcement")
        assert found[0].port == port
        assert found[0].node_id == data.identity().public_key
        # What anyone on the LAN hears names no household: not in the TXT record, not
        # in the instance label (docs/protocol.md, "Discovery").
        key = data.identity().public_key.hex()
        heard = AsyncServiceInfo(SERVICE_TYPE, f"p2p-energy-{key[:8]}.{SERVICE_TYPE}")
        assert await heard.async_request(aiozc.zeroconf, 3000)
        assert set(heard.properties) == {b"cid", b"nid", b"port", b"proto"}
        assert b"Maison" not in b"".join(v or b"" for v in heard.properties.values())
        node.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(node.wait, 20) == 0
        await _wait_for(lambda: bool(gone), 20, "the goodbye")
        await browser.stop()
    finally:
        if node.poll() is None:
            node.kill()
        await aiozc.async_close()
