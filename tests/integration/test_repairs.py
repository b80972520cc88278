"""Repair issues: a neighbour gone for an hour, a clock off, a member that cheated."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from conftest import FAST_GOSSIP, T0, NodeDirs, wait_until
from freezegun import freeze_time
from freezegun.api import _freeze_time
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers import translation
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.p2p_energy.const import CONF_NODE_DIR, CONF_PEERS, CONF_SELL_SURPLUS, DOMAIN
from custom_components.p2p_energy.issues import MarketIssues
from market.ledger.codec import ZERO_HASH
from market.ledger.community import Community
from market.ledger.kinds import Kind, OrderBody
from market.ledger.kinds import Side as LedgerSide
from market.model import Side
from market.node import Node, NodeConfig, NodeStatus
from market.node.clock import ManualClock
from market.node.datadir import PEERS_FILE, DataDir
from tests.market.ledger_helpers import ChainWriter

SLOT = T0 + 3600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def nodes() -> AsyncIterator[list[Node]]:
    """Headless neighbours started by a test, stopped after it."""
    started: list[Node] = []
    yield started
    for node in started:
        await node.stop()


async def _headless(data: DataDir, clock: ManualClock, port: int = 0) -> Node:
    node = await Node.open(
        NodeConfig(data_dir=data.path, port=port, gossip=FAST_GOSSIP), clock=clock
    )
    await node.start()
    return node


async def _text(hass: HomeAssistant, issue: ir.IssueEntry, language: str = "en") -> str:
    """The issue's title and description as the Repairs dashboard shows them."""
    strings = await translation.async_get_translations(hass, language, "issues", [DOMAIN])
    prefix = f"component.{DOMAIN}.issues.{issue.translation_key}"
    placeholders = issue.translation_placeholders or {}
    return " / ".join(
        strings[f"{prefix}.{part}"].format(**placeholders) for part in ("title", "description")
    )


def _issues(hass: HomeAssistant, key: str) -> list[ir.IssueEntry]:
    registry = ir.async_get(hass)
    return [
        issue
        for (domain, _id), issue in registry.issues.items()
        if domain == DOMAIN and issue.translation_key == key
    ]


def _frozen() -> _freeze_time:
    """Home Assistant's time stands still (and jumps when told); the market's nodes and
    the event loop keep the real one."""
    return freeze_time(dt_util.utcnow(), ignore=["market", "aiohttp"], real_asyncio=True)


async def _refresh(hass: HomeAssistant, seconds: int = 31) -> None:
    """Let the periodic status refresh (every 30 s) run."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()


async def test_a_neighbour_away_for_an_hour_is_an_issue_until_it_answers(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock, nodes: list[Node]
) -> None:
    neighbour = node_dirs.headless()
    port = _free_port()
    entry = node_dirs.entry(data={CONF_PEERS: [f"127.0.0.1:{port}"]}, neighbours=(neighbour,))
    with _frozen() as frozen:
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        frozen.tick(timedelta(seconds=31))
        await _refresh(hass, 0)
        assert not _issues(hass, "peer_unreachable")  # down, but not for long
        frozen.tick(timedelta(hours=1))
        await _refresh(hass, 0)
    [issue] = _issues(hass, "peer_unreachable")
    assert issue.severity is ir.IssueSeverity.WARNING
    assert not issue.is_fixable
    assert issue.translation_placeholders == {
        "node": "Maison",
        "peer": f"127.0.0.1:{port}",
        "hours": "1",
    }
    text = await _text(hass, issue)
    assert text.startswith(f"Neighbour 127.0.0.1:{port} unreachable / The node Maison has not")
    assert "for 1 h." in text
    assert "Voisin 127.0.0.1" in await _text(hass, issue, "fr")

    # The neighbour's node is back: the issue goes as soon as it answers.
    nodes.append(await _headless(neighbour, market_clock, port))
    await wait_until(hass, lambda: not _issues(hass, "peer_unreachable"))
    online = hass.states.get("sensor.rue_des_lilas_neighbours_online")
    assert online is not None
    assert online.state == "1"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_clock_far_from_the_neighbours_is_an_issue(
    hass: HomeAssistant,
    node_dirs: NodeDirs,
    market_clock: ManualClock,
    nodes: list[Node],
) -> None:
    neighbour = node_dirs.headless()
    entry = node_dirs.entry(options={CONF_SELL_SURPLUS: False}, neighbours=(neighbour,))
    # 45 s ahead: within the community's seal margin (60 s), but beyond the gossip's
    # replay window (30 s), where the neighbours refuse the node's requests as stale
    ahead = ManualClock(T0 * 1000 + 45_000)
    headless = await _headless(neighbour, ahead)
    nodes.append(headless)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_PEERS: [f"127.0.0.1:{headless.port}"]}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    # The neighbour pushes its entries to this node: fresh ones tell its clock.
    headless.add_peer(f"127.0.0.1:{node.port}")
    await headless.place_order(Side.SELL, 500, 800, SLOT)
    await wait_until(hass, lambda: len(node.order_book(SLOT)) == 1)
    await _refresh(hass)
    [issue] = _issues(hass, "clock_skew")
    assert issue.translation_placeholders == {"node": "Maison", "skew_s": "+45.0", "limit_s": "30"}
    text = await _text(hass, issue)
    assert "differs from the neighbours' by +45.0 s, more than 30 s: the neighbours' nodes" in text
    assert "refuse its requests as stale" in text
    assert "refusent ses requêtes comme périmées" in await _text(hass, issue, "fr")
    skew = hass.states.get("sensor.maison_clock_skew")
    assert skew is not None
    assert float(skew.state) == 45.0

    # This machine's clock is put right: fresh entries agree with it again.
    market_clock.advance(45_000)
    await headless.place_order(Side.SELL, 600, 800, SLOT)
    await headless.place_order(Side.SELL, 700, 800, SLOT)
    await wait_until(hass, lambda: len(node.order_book(SLOT)) == 3)
    await _refresh(hass, 62)
    assert not _issues(hass, "clock_skew")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_member_signing_twins_is_reported_and_the_issue_stays(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    cheater = node_dirs.headless("cheater")
    entry = node_dirs.entry(neighbours=(cheater,))
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    community: Community = node.community
    writer = ChainWriter(cheater.identity(), community)
    writer.ts = T0 * 1000
    honest = writer.frame(OrderBody(SLOT, LedgerSide.SELL, 500, 800).encode())
    twin = writer.frame(
        OrderBody(SLOT, LedgerSide.SELL, 900, 400).encode(),
        Kind.ORDER,
        seq=1,
        prev=ZERO_HASH,
        advance=False,
    )
    await node.ledger.ingest(honest)
    await node.ledger.ingest(twin)
    await wait_until(hass, lambda: bool(_issues(hass, "equivocation")))
    [issue] = _issues(hass, "equivocation")
    member = cheater.identity().public_key.hex()[:16]
    assert issue.translation_placeholders == {"node": "Maison", "member": member, "seq": "1"}
    assert f"The member {member} signed two different" in await _text(hass, issue)
    assert issue.is_persistent

    # A fact of the ledger: still there after a restart, gone with the entry.
    assert await hass.config_entries.async_reload(entry.entry_id)
    assert _issues(hass, "equivocation")
    assert await hass.config_entries.async_remove(entry.entry_id)
    assert not _issues(hass, "equivocation")


async def test_issues_of_a_stopped_node_are_withdrawn(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry(data={CONF_PEERS: [f"127.0.0.1:{_free_port()}"]})
    with _frozen() as frozen:
        assert await hass.config_entries.async_setup(entry.entry_id)
        frozen.tick(timedelta(hours=1, seconds=1))
        await _refresh(hass, 0)
        assert _issues(hass, "peer_unreachable")
        await hass.config_entries.async_unload(entry.entry_id)
    assert not _issues(hass, "peer_unreachable")


async def test_a_node_catching_up_after_a_restore_is_an_issue_until_a_neighbour_answers(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock, nodes: list[Node]
) -> None:
    neighbour = node_dirs.headless()
    port = _free_port()
    entry = node_dirs.entry(data={CONF_PEERS: [f"127.0.0.1:{port}"]}, neighbours=(neighbour,))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    [issue] = _issues(hass, "catching_up")
    assert issue.translation_placeholders == {"node": "Maison"}
    assert not issue.is_persistent
    text = await _text(hass, issue)
    assert text.startswith("Maison is catching up with its neighbours / The node Maison asks")
    assert "se met à jour auprès de ses voisins" in await _text(hass, issue, "fr")
    # it signs nothing meanwhile: an order is refused with the reason, not lost
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "place_order",
            {
                "config_entry_id": entry.entry_id,
                "side": "sell",
                "energy_kwh": 0.5,
                "price": 0.08,
                "slot": dt_util.as_local(dt_util.utc_from_timestamp(SLOT))
                .replace(tzinfo=None)
                .isoformat(),
            },
            blocking=True,
        )
    assert err.value.translation_key == "catching_up"

    # The neighbour's node starts: it answers, the node signs again, the issue goes.
    nodes.append(await _headless(neighbour, market_clock, port))
    await wait_until(hass, lambda: not _issues(hass, "catching_up"))
    node = entry.runtime_data.market.node
    assert node.status().chain == "ready"
    await node.place_order(Side.SELL, 500, 800, SLOT)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_a_key_that_signed_twice_is_an_issue_while_the_node_says_so(
    hass: HomeAssistant, node_dirs: NodeDirs
) -> None:
    entry = node_dirs.entry()
    issues = MarketIssues(hass, entry, skew_limit_s=30)
    status = NodeStatus(
        node_id="00" * 32,
        community_id="11" * 32,
        community_name="Rue des Lilas",
        address=None,
        members=2,
        peers=(),
        ledger_entries=3,
        last_sync_s_ago=None,
        clock_skew_ms=None,
        is_member=True,
        counters={},
        chain="forked",
        chain_detail="this key signed twice",
    )
    issues.check_status(status, dt_util.utcnow())
    [issue] = _issues(hass, "chain_forked")
    assert issue.translation_placeholders == {"node": "Maison"}
    text = await _text(hass, issue)
    assert text.startswith("The key of Maison signed conflicting entries / A neighbour holds")
    assert "set up a new node with a new invite" in text
    assert "nouvelle invitation" in await _text(hass, issue, "fr")
    assert not _issues(hass, "catching_up")
    issues.check_status(dataclasses.replace(status, chain="ready"), dt_util.utcnow())
    assert not _issues(hass, "chain_forked")


async def test_a_duty_that_keeps_failing_is_an_issue_until_it_works_again(
    hass: HomeAssistant, node_dirs: NodeDirs, market_clock: ManualClock, nodes: list[Node]
) -> None:
    neighbour = node_dirs.headless()
    entry = node_dirs.entry(neighbours=(neighbour,))
    headless = await _headless(neighbour, market_clock)
    nodes.append(headless)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_PEERS: [f"127.0.0.1:{headless.port}"]}
    )
    node_dir = node_dirs.root / "config" / ".storage" / DOMAIN / entry.data[CONF_NODE_DIR]
    in_the_way = node_dir / PEERS_FILE
    in_the_way.mkdir()  # the node cannot record its peers: the peer watch fails
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = entry.runtime_data.market.node
    await wait_until(hass, lambda: node.status().fault is not None)
    await _refresh(hass)
    [issue] = _issues(hass, "node_fault")
    assert not issue.is_persistent
    placeholders = issue.translation_placeholders or {}
    assert placeholders["node"] == "Maison"
    assert placeholders["fault"].startswith("the peer watch: IsADirectoryError")
    text = await _text(hass, issue)
    assert text.startswith("Maison keeps failing / A duty of the node Maison fails")
    assert "free some space" in text
    assert "échoue à répétition" in await _text(hass, issue, "fr")

    in_the_way.rmdir()  # room again: the duty works, the issue goes
    await wait_until(hass, lambda: node.status().fault is None)
    await _refresh(hass)
    assert not _issues(hass, "node_fault")
    await hass.config_entries.async_unload(entry.entry_id)
