"""Ledger benchmarks: ingest rate vs bare PyNaCl verify, and bytes on disk per order.

Prints only `BENCH <name> <value> <unit>` lines on stdout.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from nacl import bindings

from market.ledger.codec import ZERO_HASH, decode_frames, encode_frame, encode_header, entry_hash
from market.ledger.community import Community
from market.ledger.identity import Identity
from market.ledger.kinds import Kind, OrderBody, Side
from market.ledger.store import DB_FILE_NAME, LedgerStore

AUTHORS = 40
PER_AUTHOR = 500
BATCH = 500
PASSES = 3
T0_MS = 1_764_000_000_000
SLOT = 1_764_000_900


def make_frames() -> tuple[Community, list[bytes]]:
    """AUTHORS chains of PER_AUTHOR order entries, interleaved like gossip delivers them."""
    authors = [Identity(i.to_bytes(32, "big")) for i in range(1, AUTHORS + 1)]
    community = Community.create("bench", T0_MS, [a.public_key for a in authors])
    cid = community.community_id
    chains: list[list[bytes]] = []
    for index, author in enumerate(authors):
        prev = ZERO_HASH
        chain = []
        for seq in range(1, PER_AUTHOR + 1):
            body = OrderBody(
                SLOT + 900 * (seq // 4), Side(1 + (index + seq) % 2), 1000 + seq, 1500 + index
            ).encode()
            header = encode_header(
                Kind.ORDER, cid, author.public_key, seq, prev, T0_MS + seq * 1000, body
            )
            chain.append(encode_frame(header, author.sign(header), body))
            prev = entry_hash(header)
        chains.append(chain)
    frames = [chain[seq] for seq in range(PER_AUTHOR) for chain in chains]
    return community, frames


def bench_pass(community: Community, frames: list[bytes], directory: Path) -> tuple[float, float]:
    """One pass over all entries, batch by batch: bare verify of a batch, then its ingest.

    Alternating the two in small steps exposes both to the same machine load, so their
    ratio stays meaningful on a busy machine. Returns (verify seconds, ingest seconds).
    """
    batches = [b"".join(frames[i : i + BATCH]) for i in range(0, len(frames), BATCH)]
    triples = [
        [(e.signature + e.header, e.author) for e in decode_frames(batch)[0]] for batch in batches
    ]
    store = LedgerStore(directory / DB_FILE_NAME, community)
    sign_open = bindings.crypto_sign_open
    now = T0_MS + 10**9
    verify_s = ingest_s = 0.0
    accepted = 0
    for batch, batch_triples in zip(batches, triples, strict=True):
        start = time.perf_counter()
        for signed, key in batch_triples:
            sign_open(signed, key)
        middle = time.perf_counter()
        accepted += len(store.ingest(batch, now=now).accepted)
        verify_s += middle - start
        ingest_s += time.perf_counter() - middle
    store.close()
    if accepted != len(frames):
        print(f"ingest accepted {accepted} of {len(frames)}", file=sys.stderr)
    return verify_s, ingest_s


def bytes_per_entry(directory: Path, count: int) -> float:
    """Database bytes (after a WAL checkpoint) per stored entry."""
    path = directory / DB_FILE_NAME
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return float((pages - free) * page_size / count)


def main() -> None:
    """Run every ledger benchmark (three passes, each into a fresh store)."""
    community, frames = make_frames()
    print(f"{len(frames)} entries of {len(frames[0])} bytes", file=sys.stderr)
    verify_s = ingest_s = 0.0
    size = 0.0
    for _pass in range(PASSES):
        directory = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
        try:
            pass_verify, pass_ingest = bench_pass(community, frames, directory)
            size = bytes_per_entry(directory, len(frames))
        finally:
            shutil.rmtree(directory)
        print(f"pass: ratio {pass_verify / pass_ingest:.3f}", file=sys.stderr)
        verify_s += pass_verify
        ingest_s += pass_ingest
    total = PASSES * len(frames)
    raw, ingest = total / verify_s, total / ingest_s
    print(f"BENCH ledger_ingest_per_s {ingest:.0f} entries/s")
    print(f"BENCH ledger_verify_raw_per_s {raw:.0f} verifies/s")
    print(f"BENCH ledger_ingest_ratio {ingest / raw:.3f} ratio")
    print(f"BENCH ledger_bytes_per_entry {size:.1f} bytes")


if __name__ == "__main__":
    main()
