"""Fixtures of the Home Assistant integration tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import PropertyMock, patch

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

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


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (stable ids and timestamps)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


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
