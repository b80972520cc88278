"""Ingest keeps to the community's terms: every ledger stores only orders and seals that
can count (issue #14, finding 6 and the ingest half of finding 5)."""

from __future__ import annotations

import pytest

from market.ledger.community import DEFAULT_TERMS, Community
from market.ledger.errors import OffTermsError, RejectReason
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody, ReadingBody, SealBody, Side
from market.ledger.store import LedgerStore
from market.terms import MAX_HORIZON_S, MAX_ORDER_WH
from tests.market.ledger_helpers import T0_MS, ChainWriter

T0_S = T0_MS // 1000
NEXT = T0_S + 3600  # a slot an hour after the writer's first entry: its gate is open
CEILING = DEFAULT_TERMS.ceiling


def _order(slot: int, energy_wh: int = 1500, price: int = 1000, expires_s: int = 0) -> bytes:
    return OrderBody(slot, Side.SELL, energy_wh, price, expires_s).encode()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (_order(12_345), "unaligned slot"),
        (_order(32_503_680_000), "year 3000"),
        (_order(2**63 - 900 * 7), "slot 2^63"),
        (_order(T0_S + MAX_HORIZON_S + 900), "beyond the week ahead"),
        (_order(T0_S - 900), "a past slot"),
        (_order(T0_S + 300), "the gate closed (5 min lead)"),
        (_order(NEXT, energy_wh=10**9), "1 GWh"),
        (_order(NEXT, energy_wh=MAX_ORDER_WH + 1), "over the per-order limit"),
        (_order(NEXT, price=CEILING + 1), "above the ceiling"),
        (_order(NEXT, price=10**9), "10^9 ticks"),
        (_order(NEXT, expires_s=T0_S - 1), "expired when signed"),
    ],
)
def test_an_order_that_cannot_trade_is_refused_at_ingest(
    store: LedgerStore, community: Community, members: list[Identity], body: bytes, why: str
) -> None:
    writer = ChainWriter(members[1], community)
    result = store.ingest(writer.frame(body, ts=T0_MS + 1000))
    assert result.rejected == {RejectReason.OFF_TERMS: 1}, why
    assert store.count() == 0
    assert store.counters()["rejected_off_terms"] == 1


def test_an_order_within_the_terms_is_stored(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    writer = ChainWriter(members[1], community)
    bodies = [
        _order(NEXT),
        _order(T0_S + 900 * 2, price=CEILING),  # the gate of T0 + 30 min closes at + 25 min
        _order(T0_S + MAX_HORIZON_S, energy_wh=MAX_ORDER_WH, price=0),
        _order(NEXT, expires_s=T0_S + 60),  # may expire before its gate: then it is void
    ]
    frames = b"".join(writer.frame(body) for body in bodies)
    assert len(store.ingest(frames).accepted) == 4


@pytest.mark.parametrize(
    ("kind", "body", "at_ms", "why"),
    [
        (Kind.SEAL, SealBody(NEXT, bytes(32), bytes(32)).encode(), T0_MS, "a future slot"),
        (Kind.SEAL, SealBody(NEXT + 500 * 900, bytes(32), bytes(32)).encode(), T0_MS, "500 ahead"),
        (Kind.SEAL, SealBody(NEXT + 7, bytes(32), bytes(32)).encode(), NEXT * 1000, "unaligned"),
        (Kind.READING, ReadingBody(NEXT, 100, 0).encode(), NEXT * 1000, "read as it starts"),
        (Kind.READING, ReadingBody(NEXT + 1, 100, 0).encode(), T0_MS + 10**8, "unaligned"),
    ],
)
def test_a_seal_or_reading_before_its_time_is_refused(
    store: LedgerStore,
    community: Community,
    members: list[Identity],
    kind: Kind,
    body: bytes,
    at_ms: int,
    why: str,
) -> None:
    writer = ChainWriter(members[1], community)
    result = store.ingest(writer.frame(body, kind=kind, ts=at_ms), now=at_ms)
    assert result.rejected == {RejectReason.OFF_TERMS: 1}, why


def test_a_seal_at_its_gate_and_a_reading_after_its_slot_are_stored(
    store: LedgerStore, community: Community, members: list[Identity]
) -> None:
    writer = ChainWriter(members[1], community)
    gate_ms = (NEXT - community.terms.gate_lead_s) * 1000
    seal = writer.frame(SealBody(NEXT, bytes(32), bytes(32)).encode(), kind=Kind.SEAL, ts=gate_ms)
    end_ms = (NEXT + 900) * 1000
    reading = writer.frame(ReadingBody(NEXT, 100, 0).encode(), kind=Kind.READING, ts=end_ms)
    assert len(store.ingest(seal + reading, now=end_ms).accepted) == 2


def test_the_node_never_signs_what_its_peers_would_refuse(store: LedgerStore) -> None:
    # The store's own appends apply the same rule, at the entry's timestamp.
    with pytest.raises(OffTermsError, match="gate_closed"):
        store.append(Kind.ORDER, _order(T0_S))
    with pytest.raises(OffTermsError, match="premature"):
        store.append(Kind.SEAL, SealBody(NEXT + 86_400, bytes(32), bytes(32)).encode())
    assert store.count() == 0
