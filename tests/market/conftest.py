"""Fixtures shared by the engine's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.market.node_harness import Household


@pytest.fixture
async def running() -> AsyncIterator[list[Household]]:
    """Households a test starts; their nodes are stopped at the end, whatever happens."""
    houses: list[Household] = []
    yield houses
    for house in houses:
        await house.node.stop()
