"""What a hostile LAN host throws at a node's HTTP port, from raw sockets: shared by the
fault suite's floods (tests/faults/test_floods.py) and `benchmarks/bench_flood.py`."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from market.gossip.config import PATH_PREFIX

MIB = 1 << 20
PUSH_PATH = PATH_PREFIX + "/push"
# An answer that never came: the node closed or reset the connection first.
NO_ANSWER = 0


def raise_fd_limit() -> None:
    """This process's soft open-files limit up to the hard one: a flood holds 1,000 sockets."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def memory_mb(pid: int) -> dict[str, float]:
    """`VmRSS` (resident now) and `VmHWM` (the peak) of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def loopback_sources(count: int, spread: int) -> list[str]:
    """`count` source addresses over `spread` loopback ones (127.0.0.2 ...): an attacker
    on a LAN claims many addresses, and every 127/8 address is the local host's."""
    return [f"127.0.0.{2 + i % spread}" for i in range(count)]


def request_head(path: str, content_length: int, headers: Sequence[str] = ()) -> bytes:
    """An HTTP/1.1 POST head, unauthenticated unless `headers` say otherwise."""
    lines = [f"POST {path} HTTP/1.1", "Host: node", "Content-Type: application/octet-stream"]
    lines += [f"Content-Length: {content_length}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def post_once(port: int, source: str, body: bytes, path: str = PUSH_PATH) -> int | None:
    """POST `body` from `source` on a connection of its own: the answer's status,
    NO_ANSWER if the node closed first, None if no connection could be opened."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        return None
    try:
        # Written in the background while the answer is awaited: a node that refuses
        # from the headers answers before it would have read the body.
        writer.write(request_head(path, len(body)) + body)
        answer = await reader.read(1024)
    except OSError:
        return NO_ANSWER
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not answer.startswith(b"HTTP/1.1 ") or not answer[9:12].isdigit():
        return NO_ANSWER
    return int(answer[9:12])


async def body_flood(port: int, connections: int, body: bytes, spread: int) -> Counter[int | None]:
    """`connections` connections at once, each POSTing `body`, from `spread` addresses;
    how many got each status (see `post_once`)."""
    sources = loopback_sources(connections, spread)
    statuses = await asyncio.gather(*(post_once(port, source, body) for source in sources))
    return Counter(statuses)
