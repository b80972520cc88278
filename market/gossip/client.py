"""The sync client, on an injected aiohttp.ClientSession (Home Assistant's shared one)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from .. import jsontext
from ..ledger.identity import Identity
from ..ledger.store import Frontier
from .auth import sign_request
from .config import GossipConfig
from .wire import Wants, WireError, decode_frontier, encode_frontier, encode_wants

HEADER_MORE = "X-P2P-More"
OCTET_STREAM = "application/octet-stream"
RATE_LIMIT_RETRIES = 3
MAX_RETRY_AFTER_S = 2.0


class PeerRequestError(Exception):
    """A request to a peer failed (network, timeout, refusal or a malformed reply)."""


@dataclass(slots=True)
class PushReply:
    """The receiver's account of a push."""

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    behind: bool = False


class GossipClient:
    """Signs and sends sync requests to peers' base URLs."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        identity: Identity,
        community_id: bytes,
        config: GossipConfig,
        max_reply_bytes: int,
    ) -> None:
        self._session = session
        self._identity = identity
        self._community_id = community_id
        self._config = config
        self._max_reply = max_reply_bytes

    async def _post(self, base_url: str, route: str, body: bytes) -> tuple[bytes, bool]:
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            status, data, more, retry_after = await self._post_once(base_url, route, body)
            if status == 200:
                return data, more
            if status != 429 or attempt == RATE_LIMIT_RETRIES:
                raise PeerRequestError(f"{base_url}{route} answered {status}")
            # Throttled, not dead: wait as asked (bounded) instead of backing off the peer.
            await asyncio.sleep(min(retry_after, MAX_RETRY_AFTER_S))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post_once(
        self, base_url: str, route: str, body: bytes
    ) -> tuple[int, bytes, bool, float]:
        url = URL(base_url.rstrip("/") + self._config.path_prefix + route)
        headers = sign_request(self._identity, "POST", url.path, self._community_id, body)
        headers["Content-Type"] = OCTET_STREAM
        timeout = aiohttp.ClientTimeout(total=self._config.request_timeout_s)
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=timeout
            ) as response:
                if response.status != 200:
                    try:
                        retry_after = float(response.headers.get("Retry-After", "1"))
                    except ValueError:
                        retry_after = 1.0
                    return response.status, b"", False, retry_after
                if (response.content_length or 0) > self._max_reply:
                    raise PeerRequestError(f"{url} reply of {response.content_length} bytes")
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > self._max_reply:
                        raise PeerRequestError(f"{url} reply exceeds {self._max_reply} bytes")
                return 200, bytes(data), response.headers.get(HEADER_MORE) == "1", 0.0
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise PeerRequestError(f"{url}: {type(err).__name__}: {err}") from err

    async def exchange_frontier(self, base_url: str, frontier: Frontier) -> Frontier:
        """Send our frontier, get the peer's."""
        data, _more = await self._post(base_url, "/frontier", encode_frontier(frontier))
        try:
            return decode_frontier(data)
        except WireError as err:
            raise PeerRequestError(f"{base_url} sent a bad frontier: {err}") from err

    async def pull(self, base_url: str, wants: Wants) -> tuple[bytes, bool]:
        """Fetch frames for (author, from_seq) ranges; returns the batch and whether more
        remain."""
        return await self._post(base_url, "/pull", encode_wants(wants))

    async def push(self, base_url: str, batch: bytes) -> PushReply:
        """Offer a batch of frames."""
        data, _more = await self._post(base_url, "/push", batch)
        try:
            raw = jsontext.loads(data)
            return PushReply(
                int(raw["accepted"]),
                int(raw["duplicates"]),
                Counter({str(k): int(v) for k, v in raw["rejected"].items()}),
                bool(raw["behind"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise PeerRequestError(f"{base_url} sent a bad push reply: {err}") from err
