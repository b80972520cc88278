"""Sync message encodings (see docs/protocol.md, "Sync messages")."""

from __future__ import annotations

import struct

from ..ledger.store import Frontier

_COUNT = struct.Struct(">I")
_FRONTIER_ITEM = struct.Struct(">32sQ32s")
_WANT_ITEM = struct.Struct(">32sQ")

Wants = list[tuple[bytes, int]]


class WireError(ValueError):
    """A sync message is malformed."""


class TooManyItemsError(WireError):
    """A sync message holds more items than the receiver takes (GossipConfig.pull_max_wants)."""


def _items(
    data: bytes, item: struct.Struct, name: str, max_items: int | None
) -> list[tuple[bytes | int, ...]]:
    if len(data) < _COUNT.size:
        raise WireError(f"{name}: {len(data)} bytes is too short")
    (count,) = _COUNT.unpack_from(data)
    if max_items is not None and count > max_items:
        raise TooManyItemsError(f"{name}: {count} items, at most {max_items} are taken")
    if len(data) != _COUNT.size + count * item.size:
        raise WireError(f"{name}: {len(data)} bytes do not hold {count} items")
    return list(item.iter_unpack(data[_COUNT.size :]))


def encode_frontier(frontier: Frontier) -> bytes:
    """u32 count | count x (author 32 | seq u64 | hash 32), authors in byte order."""
    parts = [_COUNT.pack(len(frontier))]
    parts.extend(
        _FRONTIER_ITEM.pack(author, seq, head) for author, (seq, head) in sorted(frontier.items())
    )
    return b"".join(parts)


def decode_frontier(data: bytes, max_items: int | None = None) -> Frontier:
    """Inverse of encode_frontier; raises WireError (TooManyItemsError over max_items)."""
    frontier: Frontier = {}
    for author, seq, head in _items(data, _FRONTIER_ITEM, "frontier", max_items):
        assert isinstance(author, bytes) and isinstance(seq, int) and isinstance(head, bytes)
        frontier[author] = (seq, head)
    return frontier


def encode_wants(wants: Wants) -> bytes:
    """u32 count | count x (author 32 | from_seq u64)."""
    return _COUNT.pack(len(wants)) + b"".join(_WANT_ITEM.pack(a, s) for a, s in wants)


def decode_wants(data: bytes, max_items: int | None = None) -> Wants:
    """Inverse of encode_wants; raises WireError (TooManyItemsError over max_items)."""
    wants: Wants = []
    for author, from_seq in _items(data, _WANT_ITEM, "wants", max_items):
        assert isinstance(author, bytes) and isinstance(from_seq, int)
        wants.append((author, from_seq))
    return wants


def missing_from(have: Frontier, other: Frontier) -> Wants:
    """What `have` should fetch to catch up with `other`.

    From its own head seq inclusive (not head + 1): if the other side holds a different
    entry at that seq, receiving it reveals the equivocation.
    """
    wants: Wants = []
    for author, (seq, head) in sorted(other.items()):
        mine = have.get(author)
        if mine is None:
            wants.append((author, 1))
        elif seq > mine[0] or (seq == mine[0] and head != mine[1]):
            wants.append((author, max(1, mine[0])))
    return wants
