"""The sync client, on an injected aiohttp.ClientSession (Home Assistant's shared one).

Every request is boxed to the peer's key and every reply must open under the same
request's key (docs/protocol.md, "Encrypted requests"). A peer known by its address
only is asked its key first (`/hello`); that answer is unauthenticated, so the key is
used for frontiers and pulls (which reveal no entry) at once, and for pushes only once
this node's ledger counts it as a member.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from .. import jsontext
from ..ledger.identity import Identity
from ..ledger.store import Frontier
from .auth import HEADER_SERVER_TIME, KEY_BYTES, now_ms, seal_request
from .clocks import PeerClocks, offset_of
from .config import GossipConfig
from .peers import Peer
from .sealed import BOX_CONTENT_TYPE, BoxError, Reply, decode_reply
from .wire import Wants, WireError, decode_frontier, encode_frontier, encode_wants

RATE_LIMIT_RETRIES = 3
MAX_RETRY_AFTER_S = 2.0
HELLO_ROUTE = "/hello"
MAX_HELLO_BYTES = 1024
MAX_REASON_BYTES = 64


class PeerRequestError(Exception):
    """A request to a peer failed (network, timeout, refusal or a malformed reply)."""


@dataclass(slots=True)
class PushReply:
    """The receiver's account of a push."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    behind: bool = False


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    data: bytes
    retry_after: float = 0.0
    reason: str = ""


class GossipClient:
    """Seals and sends sync requests to peers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        identity: Identity,
        community_id: bytes,
        config: GossipConfig,
        max_reply_bytes: int,
        is_member: Callable[[bytes], bool],
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._session = session
        self._identity = identity
        self._community_id = community_id
        self._config = config
        self._max_reply = max_reply_bytes
        self._is_member = is_member
        self._clock_ms = clock_ms  # the wall clock; tests skew it
        self.clocks = PeerClocks()
        # replies refused (`reply_box`: forged or broken) and peers' keys learned
        self.stats: Counter[str] = Counter()

    def may_push(self, peer: Peer) -> bool:
        """Whether entries may be sent to peer: its key is unknown yet (the push asks
        for it first) or one this node counts as a member."""
        return peer.key is None or self._is_member(peer.key)

    async def hello(self, peer: Peer) -> bytes:
        """Ask a peer known by its address for its key; sets and returns `peer.key`."""
        url = URL(peer.url.rstrip("/") + self._config.path_prefix + HELLO_ROUTE)
        timeout = aiohttp.ClientTimeout(total=self._config.request_timeout_s)
        try:
            async with self._session.get(
                url, params={"community": self._community_id.hex()}, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise PeerRequestError(f"{url} answered {response.status}")
                data = await read_bounded(url, response, MAX_HELLO_BYTES)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise PeerRequestError(f"{url}: {type(err).__name__}: {err}") from err
        try:
            raw = jsontext.loads(data)
            key = bytes.fromhex(raw["key"])
            community = bytes.fromhex(raw["community"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise PeerRequestError(f"{url} sent a bad hello: {err}") from err
        if len(key) != KEY_BYTES or community != self._community_id:
            raise PeerRequestError(f"{url} is no node of this community")
        peer.key = key
        self.stats["keys_learned"] += 1
        return key

    async def _recipient(self, peer: Peer, *, push: bool) -> bytes:
        key = peer.key if peer.key is not None else await self.hello(peer)
        if push and not self._is_member(key):
            raise PeerRequestError(
                f"{peer.url} has key {key.hex()[:16]}, no member here (yet): nothing is "
                "pushed to it"
            )
        return key

    async def _post(self, peer: Peer, route: str, body: bytes, *, push: bool = False) -> Reply:
        recipient = await self._recipient(peer, push=push)
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            answer = await self._post_once(peer, recipient, route, body)
            if isinstance(answer, Reply):
                return answer
            if answer.status == 421:
                # Not the key we boxed to (a rotated key, or a wrong hello or
                # announcement): ask again next time.
                peer.key = None
            if answer.status != 429 or attempt == RATE_LIMIT_RETRIES:
                reason = f" ({answer.reason})" if answer.reason else ""
                raise PeerRequestError(f"{peer.url}{route} answered {answer.status}{reason}")
            # Throttled, not dead: wait as asked (bounded) instead of backing off the peer.
            await asyncio.sleep(min(answer.retry_after, MAX_RETRY_AFTER_S))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post_once(
        self, peer: Peer, recipient: bytes, route: str, body: bytes
    ) -> Reply | _Answer:
        url = URL(peer.url.rstrip("/") + self._config.path_prefix + route)
        sealed = seal_request(
            self._identity,
            recipient,
            "POST",
            url.path,
            self._community_id,
            body,
            ts_ms=self._clock_ms(),
        )
        headers = {**sealed.headers, "Content-Type": BOX_CONTENT_TYPE}
        timeout = aiohttp.ClientTimeout(total=self._config.request_timeout_s)
        try:
            async with self._session.post(
                url, data=sealed.body, headers=headers, timeout=timeout
            ) as response:
                if response.status != 200:
                    return await self._refusal(peer, response, sealed.sent_ms)
                data = await read_bounded(url, response, self._max_reply)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise PeerRequestError(f"{url}: {type(err).__name__}: {err}") from err
        try:
            reply = decode_reply(sealed.channel.open_reply(data))
        except BoxError as err:
            # Not made by the key we boxed to: a forged or tampered answer.
            self.stats["reply_box"] += 1
            raise PeerRequestError(f"{url} sent a reply that does not open: {err}") from err
        self.clocks.answered(peer.url, offset_of(reply.server_ms, sealed.sent_ms, self._clock_ms()))
        return reply

    async def _refusal(self, peer: Peer, response: aiohttp.ClientResponse, sent_ms: int) -> _Answer:
        # A short plaintext reason: unauthenticated, so it only ever makes us back off.
        text = await response.content.read(MAX_REASON_BYTES)
        reason = "".join(c for c in text.decode("ascii", "replace") if c.isalnum() or c == "_")
        try:
            retry_after = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            retry_after = 1.0
        server_time = response.headers.get(HEADER_SERVER_TIME)
        if server_time is not None and server_time.isdigit() and len(server_time) <= 16:
            self.clocks.refused(peer.url, offset_of(int(server_time), sent_ms, self._clock_ms()))
        return _Answer(response.status, b"", retry_after, reason)

    async def exchange_frontier(self, peer: Peer, frontier: Frontier) -> Frontier:
        """Send our frontier, get the peer's."""
        reply = await self._post(peer, "/frontier", encode_frontier(frontier))
        try:
            return decode_frontier(reply.payload)
        except WireError as err:
            raise PeerRequestError(f"{peer.url} sent a bad frontier: {err}") from err

    async def pull(self, peer: Peer, wants: Wants) -> tuple[bytes, bool]:
        """Fetch frames for (author, from_seq) ranges; returns the batch and whether more
        remain."""
        reply = await self._post(peer, "/pull", encode_wants(wants))
        return reply.payload, reply.more

    async def push(self, peer: Peer, batch: bytes) -> PushReply:
        """Offer a batch of frames (to a member's key only)."""
        reply = await self._post(peer, "/push", batch, push=True)
        try:
            raw = jsontext.loads(reply.payload)
            return PushReply(
                int(raw["accepted"]),
                int(raw["duplicates"]),
                Counter({str(k): int(v) for k, v in raw["rejected"].items()}),
                bool(raw["behind"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise PeerRequestError(f"{peer.url} sent a bad push reply: {err}") from err


async def read_bounded(url: URL, response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of `response`, refused past `limit` bytes."""
    if (response.content_length or 0) > limit:
        raise PeerRequestError(f"{url} reply of {response.content_length} bytes")
    data = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        data += chunk
        if len(data) > limit:
            raise PeerRequestError(f"{url} reply exceeds {limit} bytes")
    return bytes(data)
