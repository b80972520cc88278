"""The SQLite store, the async ledger, the CLI, and durability under SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from market.cli import main as market_main
from market.ledger.community import Community
from market.ledger.errors import (
    CommunityMismatchError,
    IdentityError,
    NotAMemberError,
    SigningHeldError,
    StoreClosedError,
)
from market.ledger.identity import KEY_FILE_NAME, load_or_create_identity, read_identity
from market.ledger.kinds import Kind
from market.ledger.ledger import Ledger
from market.ledger.store import DB_FILE_NAME, LedgerStore
from market.ledger.verify import verify_store
from market.terms import CommunityTerms
from tests.market.ledger_helpers import (
    T0_MS,
    ChainWriter,
    clock_ms,
    community_of,
    identities,
    order,
)

REPO = Path(__file__).resolve().parents[2]


def test_identity_is_created_once_owner_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = load_or_create_identity(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_or_create_identity(tmp_path)
    assert second.public_key == first.public_key
    assert second.node_id == first.node_id and len(first.node_id) == 32
    seed = path.read_bytes()
    assert seed.hex() not in repr(first) and seed.hex() not in caplog.text


def test_identity_file_made_world_readable_is_narrowed(tmp_path: Path) -> None:
    load_or_create_identity(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o644)
    load_or_create_identity(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_identity_read_only_never_creates_nor_repairs(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="no node key"):
        read_identity(tmp_path)
    assert not (tmp_path / KEY_FILE_NAME).exists()
    created = load_or_create_identity(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    path.chmod(0o640)  # shared with a group that reads statements
    assert read_identity(tmp_path).public_key == created.public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    path.write_bytes(b"short")
    with pytest.raises(IdentityError, match="5 bytes"):
        read_identity(tmp_path)


def test_store_is_wal_and_survives_reopen(tmp_path: Path) -> None:
    (me,) = identities(1)
    community = community_of([me])
    store = LedgerStore(tmp_path / DB_FILE_NAME, community, me, clock_ms=clock_ms)
    entries = [store.append(Kind.ORDER, order(energy_wh=100 + i)) for i in range(5)]
    store.close()
    with sqlite3.connect(tmp_path / DB_FILE_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = LedgerStore(tmp_path / DB_FILE_NAME, community, me, clock_ms=clock_ms)
    assert reopened.frontier() == {me.public_key: (5, entries[-1].hash)}
    assert reopened.append(Kind.ORDER, order()).prev_hash == entries[-1].hash
    assert reopened.get(entries[2].hash) == entries[2]
    reopened.close()


def test_store_refuses_another_community(tmp_path: Path) -> None:
    a, b = identities(2)
    LedgerStore(tmp_path / DB_FILE_NAME, community_of([a]), clock_ms=clock_ms).close()
    with pytest.raises(CommunityMismatchError):
        LedgerStore(tmp_path / DB_FILE_NAME, community_of([b]), clock_ms=clock_ms)


def test_non_member_cannot_append(tmp_path: Path) -> None:
    a, outsider = identities(2)
    store = LedgerStore(tmp_path / DB_FILE_NAME, community_of([a]), outsider, clock_ms=clock_ms)
    with pytest.raises(NotAMemberError):
        store.append(Kind.ORDER, order())
    store.close()


async def test_async_ledger_runs_the_store_off_the_event_loop(tmp_path: Path) -> None:
    (me,) = identities(1)
    ledger = await Ledger.open(tmp_path, community_of([me]), me, clock_ms=clock_ms)
    seen: list[int] = []
    ledger.add_listener(lambda entries, _origin: seen.extend(e.seq for e in entries))
    threads: set[str] = set()
    original = ledger._store.append_many

    def spy(*args: object) -> object:
        threads.add(threading.current_thread().name)
        return original(*args)  # type: ignore[arg-type]

    ledger._store.append_many = spy  # type: ignore[method-assign,assignment]
    results = await asyncio.gather(*(ledger.append(Kind.ORDER, order()) for _ in range(20)))
    assert sorted(e.seq for e in results) == list(range(1, 21))
    assert seen == sorted(seen) and len(seen) == 20
    assert threads and all(name.startswith("ledger") for name in threads)
    assert await ledger.count() == 20
    await ledger.close()


def test_equivocation_is_kept_as_proof_and_published(tmp_path: Path) -> None:
    me, cheater = identities(2)
    community = community_of([me, cheater])
    store = LedgerStore(tmp_path / DB_FILE_NAME, community, me, clock_ms=clock_ms)
    honest = ChainWriter(cheater, community)
    store.ingest(honest.frames(3), now=T0_MS + 10**6)
    fork = ChainWriter(cheater, community)
    fork.frames(2)
    result = store.ingest(fork.frame(order(energy_wh=5)), now=T0_MS + 10**6)
    assert len(result.equivocations) == 1
    (proof,) = store.equivocations()
    assert proof.author == cheater.public_key and proof.seq == 3
    proof.check(community.community_id)
    # the node published the proof in its own chain, so it spreads like any entry
    (published,) = store.entries(kind=Kind.EQUIVOCATION)
    assert published.author == me.public_key and published.body == proof.encode()
    # the first entry stays in the chain; the fork is not stored as an entry
    assert store.frontier()[cheater.public_key] == (3, honest.prev)
    store.close()
    assert verify_store(tmp_path).problems == []


def test_a_held_store_signs_nothing_and_publishes_its_proofs_once_released(
    tmp_path: Path,
) -> None:
    me, cheater = identities(2)
    community = community_of([me, cheater])
    store = LedgerStore(tmp_path / DB_FILE_NAME, community, me, clock_ms=clock_ms)
    store.signing_held = True
    with pytest.raises(SigningHeldError):
        store.append(Kind.ORDER, order())
    honest = ChainWriter(cheater, community)
    store.ingest(honest.frames(2), now=T0_MS + 10**6)
    fork = ChainWriter(cheater, community)
    fork.frames(1)
    result = store.ingest(fork.frame(order(energy_wh=5)), now=T0_MS + 10**6)
    assert len(result.equivocations) == 1
    # the proof is kept, but not signed while held
    assert store.entries(kind=Kind.EQUIVOCATION) == []
    (published,) = store.release_signing()
    assert published.author == me.public_key and published.seq == 1
    assert published.body == result.equivocations[0].encode()
    assert store.append(Kind.ORDER, order()).seq == 2
    store.close()


def test_cli_verify_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    me, other = identities(2)
    community = community_of([me, other])
    store = LedgerStore(tmp_path / DB_FILE_NAME, community, me, clock_ms=clock_ms)
    store.append(Kind.ORDER, order())
    store.ingest(ChainWriter(other, community).frames(3), now=T0_MS + 10**6)
    store.close()
    assert market_main(["ledger", "verify", str(tmp_path)]) == 0
    assert "4 entries from 2 authors" in capsys.readouterr().out
    assert market_main(["ledger", "show", str(tmp_path), "--author", other.public_key.hex()]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(" order " in line and "energy_wh=" in line for line in lines)


def test_cli_verify_reports_a_tampered_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (me,) = identities(1)
    store = LedgerStore(tmp_path / DB_FILE_NAME, community_of([me]), me, clock_ms=clock_ms)
    for _ in range(4):
        store.append(Kind.ORDER, order())
    store.close()
    with sqlite3.connect(tmp_path / DB_FILE_NAME) as conn:
        raw = conn.execute("SELECT raw FROM entries WHERE seq = 2").fetchone()[0]
        tampered = raw[:-5] + b"\x99" + raw[-4:]
        conn.execute("UPDATE entries SET raw = ? WHERE seq = 2", (tampered,))
        conn.execute("DELETE FROM entries WHERE seq = 3")
        conn.execute("UPDATE entries SET hash = zeroblob(32) WHERE seq = 4")
    assert market_main(["ledger", "verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "body does not match body_hash" in out
    assert "index columns disagree" in out
    assert "chain gap" in out


def test_cli_init_creates_a_usable_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = identities(1)[0]
    assert (
        market_main(
            ["ledger", "init", str(tmp_path), "--name", "rue", "--member", other.public_key.hex()]
        )
        == 0
    )
    community = Community.load(tmp_path / "community.json")
    me = load_or_create_identity(tmp_path)
    assert set(community.genesis_members) == {me.public_key, other.public_key}
    assert community.community_id.hex() in capsys.readouterr().out
    assert community.terms == CommunityTerms()


def test_cli_init_takes_the_market_terms_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms_file = tmp_path / "terms.json"
    terms_file.write_text('{"slot_s": 3600, "gate_lead_s": 600, "mechanism": "pay_as_bid"}')
    node = tmp_path / "node"
    assert (
        market_main(["ledger", "init", str(node), "--name", "rue", "--terms", str(terms_file)]) == 0
    )
    community = Community.load(node / "community.json")
    assert community.terms == CommunityTerms(slot_s=3600, gate_lead_s=600, mechanism="pay_as_bid")
    assert community.community_id.hex() in capsys.readouterr().out
    terms_file.write_text('{"slot_s": 7}')
    assert (
        market_main(
            ["ledger", "init", str(tmp_path / "bad"), "--name", "rue", "--terms", str(terms_file)]
        )
        == 2
    )
    assert "slot_s" in capsys.readouterr().err


def test_cli_reports_a_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert market_main(["ledger", "verify", str(tmp_path / "nowhere")]) == 2
    assert "no ledger store" in capsys.readouterr().err


def test_sigkill_mid_burst_keeps_every_acknowledged_entry(tmp_path: Path) -> None:
    me = load_or_create_identity(tmp_path)  # the subprocess signs with the key stored here
    (tmp_path / "community.json").write_text(
        Community.create("crash", T0_MS, [me.public_key]).to_json()
    )
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("ledger_burst.py")), str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    acked = 0
    assert process.stdout is not None
    try:
        for line in process.stdout:
            acked = int(line.split()[1])
            if acked >= 400:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert acked >= 400
    report = verify_store(tmp_path)
    assert report.problems == []
    store = LedgerStore.open_existing(tmp_path / DB_FILE_NAME)
    head_seq, _head = store.frontier()[me.public_key]
    assert head_seq >= acked
    assert store.count() == head_seq
    store.close()


def test_identity_creation_leaves_no_partial_key(tmp_path: Path) -> None:
    (tmp_path / f".{KEY_FILE_NAME}.{os.getpid()}.tmp").write_bytes(b"half")
    identity = load_or_create_identity(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY_FILE_NAME]
    assert load_or_create_identity(tmp_path).public_key == identity.public_key


async def test_closed_ledger_refuses_calls_and_equivocators_are_listed(tmp_path: Path) -> None:
    me, cheater = identities(2)
    community = community_of([me, cheater])
    ledger = await Ledger.open(tmp_path, community, me, clock_ms=clock_ms)
    writer = ChainWriter(cheater, community)
    await ledger.ingest(writer.frames(2))
    fork = ChainWriter(cheater, community)
    fork.frames(1)
    await ledger.ingest(fork.frame(order(energy_wh=3)))
    assert await ledger.equivocations_by(cheater.public_key) == [2]
    assert await ledger.equivocations_by(me.public_key) == []
    await ledger.close()
    with pytest.raises(StoreClosedError):
        await ledger.count()
