"""Fixtures shared by the engine's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.store import LedgerStore
from tests.market.ledger_helpers import clock_ms, community_of, identities
from tests.market.node_harness import Household


@pytest.fixture
async def running() -> AsyncIterator[list[Household]]:
    """Households a test starts; their nodes are stopped at the end, whatever happens."""
    houses: list[Household] = []
    yield houses
    for house in houses:
        await house.node.stop()


@pytest.fixture
def members() -> list[Identity]:
    """Three genesis members of the ledger tests' community."""
    return identities(3)


@pytest.fixture
def community(members: list[Identity]) -> Community:
    return community_of(members)


@pytest.fixture
def store(tmp_path: Path, community: Community, members: list[Identity]) -> Iterator[LedgerStore]:
    """The first member's store, on the ledger tests' clock."""
    s = LedgerStore(tmp_path / "ledger.sqlite3", community, members[0], clock_ms=clock_ms)
    yield s
    s.close()
