"""Fixtures of the Home Assistant integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, PropertyMock, patch

import pytest
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from custom_components.p2p_energy.const import (
    CONF_BUY_CONSUMPTION,
    CONF_COMMUNITY_ID,
    CONF_NODE_DIR,
    CONF_NODE_ID,
    CONF_NODE_NAME,
    CONF_PEERS,
    CONF_PORT,
    CONF_SELL_SURPLUS,
    DOMAIN,
)
from custom_components.p2p_energy.runtime import NODE_HOOKS
from market.ledger.community import Community
from market.ledger.identity import KEY_FILE_NAME
from market.node import Node, NodeConfig
from market.node.clock import ManualClock
from market.node.datadir import DataDir
from market.terms import CommunityTerms
from tests.market.node_harness import FAST_GOSSIP, T0, Household

TIC_CAPTURES = Path(__file__).resolve().parents[1] / "market" / "data" / "tic"


async def wait_until(hass: HomeAssistant, check: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Let Home Assistant run until `check()` holds; fail after `limit_s` seconds."""
    async with asyncio.timeout(limit_s):
        while not check():
            await asyncio.sleep(0.05)
            await hass.async_block_till_done()


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> Iterator[None]:
    """Let Home Assistant load custom_components/p2p_energy from the checkout."""
    yield


@pytest.fixture(autouse=True)
def no_deprecated_usage_reported(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Home Assistant reports a deprecated use by an integration as a logged warning
    ("Detected that custom integration 'p2p_energy' ...", with the release it breaks in)
    rather than a DeprecationWarning: any such report fails the test, on every release.
    HA reports each use once per process, so the record of past reports is cleared."""
    frame._REPORTED_INTEGRATIONS.clear()  # else only the first test sees it
    yield
    reports = [
        record.getMessage()
        for record in caplog.get_records("call")
        if "Detected that custom integration 'p2p_energy'" in record.getMessage()
    ]
    assert not reports, reports


class SnapshotsOfThisRelease(HomeAssistantSnapshotExtension):
    """Snapshots under snapshots/<HA version>/: what a registry entry or a state holds
    changes with Home Assistant (new registry fields, entity aliases, default display
    precisions), so each release the tests run on (requirements-dev.txt's and the newest,
    `make test-ha-latest`) has its own, each compared in full."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(Path(super().dirname(test_location=test_location)) / HA_VERSION)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (stable ids and timestamps)."""
    return snapshot.use_extension(SnapshotsOfThisRelease)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, those disabled by default too (for snapshots)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@dataclass
class TicLine:
    """A ser2net-like TCP server on loopback that plays a real Linky capture in a loop."""

    data: bytes
    period_s: float = 0.05
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    async def _serve(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)  # type: ignore[arg-type]
        with contextlib.suppress(ConnectionError):
            while not writer.is_closing():
                writer.write(self.data)
                await writer.drain()
                await asyncio.sleep(self.period_s)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Unplug the dongle: close the server and every connection."""
        if self.server is not None:
            self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None


@pytest.fixture
async def tic_line(socket_enabled: None) -> AsyncIterator[TicLine]:
    """A standard-mode single-phase Linky reachable at socket://127.0.0.1:PORT."""
    line = TicLine((TIC_CAPTURES / "std_1p_base_real_1.bin").read_bytes())
    await line.start()
    yield line
    await line.stop()


# ---------------------------------------------------------------- the market node

# T0 (tests/market/node_harness.py) is local midnight in the test time zone
# (US/Pacific), so "today" starts with the tests' first slot.
COMMUNITY_NAME = "Rue des Lilas"


@pytest.fixture(autouse=True)
def market_clock(mock_async_zeroconf: MagicMock) -> Iterator[ManualClock]:
    """Every entry's node runs on this manual clock, with a LAN's quick gossip, and
    announces itself through Home Assistant's (mocked) shared zeroconf instance."""
    clock = ManualClock(T0 * 1000)
    # Like Home Assistant's: the goodbye packets are awaited once the service is gone.
    mock_async_zeroconf.async_unregister_service.side_effect = lambda *_a, **_k: asyncio.sleep(0)
    with (
        patch.object(NODE_HOOKS, "clock_factory", lambda: clock),
        patch.object(NODE_HOOKS, "gossip", FAST_GOSSIP),
        # Home Assistant's fixture mocks its own browser; the node brings its own.
        patch("market.gossip.discovery.AsyncServiceBrowser", autospec=True),
    ):
        yield clock


def _with_key(data: DataDir, name: str) -> DataDir:
    """A node key derived from `name`: the same ids (and snapshots) on every run."""
    data.path.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = data.path / KEY_FILE_NAME
    key.write_bytes(hashlib.sha256(name.encode()).digest())
    key.chmod(0o600)
    return data


@dataclass
class NodeDirs:
    """Node data directories and the community they belong to."""

    hass: HomeAssistant
    root: Path
    terms: CommunityTerms = field(default_factory=CommunityTerms)

    def headless(self, name: str = "headless") -> DataDir:
        """A data dir for a headless neighbour, with its key."""
        return _with_key(DataDir(self.root / name), name)

    def entry(
        self,
        *,
        title: str = "Maison",
        data: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        neighbours: tuple[DataDir, ...] = (),
        member: bool = True,
    ) -> MockConfigEntry:
        """A config entry whose node directory holds a key and a community of which it
        (unless not a `member` yet) and `neighbours` are the genesis members: what the
        config flow leaves behind."""
        node_dir = uuid.uuid4().hex
        data_dir = _with_key(
            DataDir(Path(self.hass.config.path(".storage", DOMAIN, node_dir))), title
        )
        key = data_dir.identity().public_key
        members = [*([key] if member else []), *(n.identity().public_key for n in neighbours)]
        community = Community.create(COMMUNITY_NAME, T0 * 1000, members, self.terms)
        for node in (data_dir, *neighbours):
            node.save_community(community)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=title,
            entry_id=f"entry_{hashlib.sha256(title.encode()).hexdigest()[:12]}",
            unique_id=community.community_id.hex(),
            data={
                CONF_NODE_NAME: title,
                CONF_NODE_DIR: node_dir,
                CONF_PORT: 0,
                CONF_COMMUNITY_ID: community.community_id.hex(),
                CONF_NODE_ID: key.hex(),
                CONF_PEERS: [],
                **(data or {}),
            },
            options=options or {},
        )
        entry.add_to_hass(self.hass)
        return entry


@pytest.fixture
def node_dirs(hass: HomeAssistant, tmp_path: Path, socket_enabled: None) -> NodeDirs:
    """Builds entries with prepared node directories under a per-test config dir."""
    hass.config.config_dir = str(tmp_path / "config")
    return NodeDirs(hass, tmp_path)


async def advance_to(hass: HomeAssistant, clock: ManualClock, t_s: int) -> None:
    """Move the market's clock to `t_s` and let the node act on it (seal, clear, tick)."""
    clock.advance_to(t_s * 1000)
    for _ in range(5):
        await asyncio.sleep(0.01)
    await hass.async_block_till_done()


# ---------------------------------------------------------------- a neighbour to trade with


@pytest.fixture
async def neighbour(node_dirs: NodeDirs, market_clock: ManualClock) -> AsyncIterator[Household]:
    """A neighbour's headless node, on loopback and on the test's clock."""
    data = node_dirs.headless()
    node_dirs.entry(neighbours=(data,))  # the community, as the household's set-up makes it
    node = await Node.open(NodeConfig(data_dir=data.path, gossip=FAST_GOSSIP), clock=market_clock)
    household = Household(node)
    node.subscribe(household.events.append)
    await node.start()
    yield household
    await node.stop()


@pytest.fixture
async def home(hass: HomeAssistant, neighbour: Household) -> AsyncIterator[MockConfigEntry]:
    """The household's entry, whose node knows the neighbour (and the neighbour it)."""
    [entry] = hass.config_entries.async_entries(DOMAIN)
    assert isinstance(entry, MockConfigEntry)
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_PEERS: [f"127.0.0.1:{neighbour.node.port}"]},
        # its agents trade nothing by themselves: the tests place the orders
        options={CONF_SELL_SURPLUS: False, CONF_BUY_CONSUMPTION: False},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    neighbour.node.add_peer(f"127.0.0.1:{entry.runtime_data.market.node.port}")
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)
