"""The sync server: aiohttp routes that run standalone or mounted in another app
(e.g. Home Assistant's, via `app.router.add_routes(server.routes())`)."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..ledger.errors import LedgerError
from ..ledger.ledger import Ledger, Origin
from .auth import AuthError, RequestVerifier
from .client import HEADER_MORE, OCTET_STREAM
from .config import GossipConfig
from .gate import RefusedError, RequestGate, refusal_response
from .guard import ConnectionGuard, GuardedSite, runner_options
from .ratelimit import RateLimiter
from .wire import (
    TooManyItemsError,
    WireError,
    decode_frontier,
    decode_wants,
    encode_frontier,
)

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request, bytes, bytes], Awaitable[web.Response]]


class GossipServer:
    """Serves frontier, pull and push to members; counts every refused request."""

    def __init__(
        self, ledger: Ledger, config: GossipConfig, gate: RequestGate | None = None
    ) -> None:
        self.ledger = ledger
        self.config = config
        # shared with the node's /redeem, so that both take turns from one pool
        self.gate = gate or RequestGate(config.limits)
        self.verifier = RequestVerifier(
            ledger.community_id,
            ledger.is_member,
            config.replay_window_s,
            config.max_nonces_per_peer,
        )
        self.limiter = RateLimiter(
            config.rate_per_s, config.rate_burst, max_keys=config.limits.max_tracked_addresses
        )
        self.counters: Counter[str] = Counter()
        self._max_entries = min(config.pull_max_entries, ledger.limits.max_batch_entries)
        self._max_bytes = min(config.pull_max_bytes, ledger.limits.max_batch_bytes)

    def routes(self) -> web.RouteTableDef:
        """The sync routes under config.path_prefix."""
        routes = web.RouteTableDef()
        prefix = self.config.path_prefix
        routes.post(prefix + "/frontier")(self._wrap(self._frontier))
        routes.post(prefix + "/pull")(self._wrap(self._pull))
        routes.post(prefix + "/push")(self._wrap(self._push))
        return routes

    def make_app(self) -> web.Application:
        """A standalone application serving only the sync routes."""
        app = web.Application(client_max_size=self.config.max_request_bytes)
        app.add_routes(self.routes())
        return app

    def _refuse(self, reason: str, status: int) -> web.Response:
        self.counters[f"refused_{reason}"] += 1
        headers = {"Retry-After": "1"} if status == 429 else None
        return web.Response(status=status, text=reason, headers=headers)

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def authenticated(request: web.Request) -> web.Response:
            refusal = self.gate.screen(request)
            if refusal is not None:
                self.counters[f"refused_{refusal.reason}"] += 1
                return refusal_response(refusal, close=True)
            async with self.gate.turn() as busy:
                if busy is not None:
                    self.counters[f"refused_{busy.reason}"] += 1
                    return refusal_response(busy, close=False)
                return await self._authenticate(request, handler)

        return authenticated

    def _refuse_unauthenticated(
        self, request: web.Request, reason: str, status: int
    ) -> web.Response:
        self.gate.charge(request, reason)
        response = self._refuse(reason, status)
        response.force_close()
        return response

    async def _authenticate(self, request: web.Request, handler: Handler) -> web.Response:
        try:
            data = await self.gate.read_body(request, self.config.max_request_bytes)
        except RefusedError as err:
            return self._refuse_unauthenticated(request, err.refusal.reason, err.refusal.status)
        try:
            key = self.verifier.verify(request.method, request.path, request.headers, data)
        except AuthError as err:
            if err.reason == "rate_limited":
                return self._refuse(err.reason, 429)
            return self._refuse_unauthenticated(request, err.reason, 403)
        if not self.limiter.allow(key):
            return self._refuse("rate_limited", 429)
        self.counters["served"] += 1
        return await handler(request, key, data)

    async def _frontier(self, _request: web.Request, _key: bytes, body: bytes) -> web.Response:
        try:
            decode_frontier(body, self.config.pull_max_wants)
        except TooManyItemsError:
            return self._refuse("too_many_authors", 413)
        except WireError:
            return self._refuse("malformed", 400)
        frontier = await self.ledger.frontier()
        return web.Response(body=encode_frontier(frontier), content_type=OCTET_STREAM)

    async def _pull(self, _request: web.Request, _key: bytes, body: bytes) -> web.Response:
        try:
            wants = decode_wants(body, self.config.pull_max_wants)
        except TooManyItemsError:
            return self._refuse("too_many_wants", 413)
        except WireError:
            return self._refuse("malformed", 400)
        frames, more = await self.ledger.read_ranges(wants, self._max_entries, self._max_bytes)
        return web.Response(
            body=b"".join(frames),
            content_type=OCTET_STREAM,
            headers={HEADER_MORE: "1" if more else "0"},
        )

    async def _push(self, _request: web.Request, key: bytes, body: bytes) -> web.Response:
        try:
            result = await self.ledger.ingest(body, origin=Origin(key))
        except (sqlite3.Error, LedgerError):
            _LOGGER.exception("could not store a push from %s", key.hex()[:16])
            return self._refuse("store_error", 503)
        if result.rejected:
            _LOGGER.debug("push from %s: rejected %s", key.hex()[:16], dict(result.rejected))
        reply = {
            "accepted": len(result.accepted),
            "duplicates": result.duplicates,
            "rejected": {str(reason): n for reason, n in result.rejected.items()},
            "behind": result.behind,
        }
        return web.json_response(reply)


async def start_site(
    app: web.Application, host: str, port: int, guard: ConnectionGuard | None = None
) -> tuple[web.AppRunner, int]:
    """Run app on host:port (port 0 picks a free one) behind `guard` (default limits);
    returns the runner and the port."""
    guard = guard or ConnectionGuard()
    runner = web.AppRunner(app, access_log=None, **runner_options(guard.limits))
    await runner.setup()
    site = GuardedSite(runner, host, port, guard)
    await site.start()
    bound = runner.addresses[0][1] if port == 0 else port
    return runner, int(bound)
