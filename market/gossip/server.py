"""The sync server: aiohttp routes that run standalone or mounted in another app
(e.g. Home Assistant's, via `app.router.add_routes(server.routes())`)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..ledger.errors import LedgerError
from ..ledger.identity import Identity
from ..ledger.ledger import Ledger, Origin
from ..logflood import FloodLog
from .auth import HEADER_SERVER_TIME, AuthError, RequestVerifier, Verified, now_ms
from .client import HELLO_ROUTE
from .config import LEGACY_PATH_PREFIX, GossipConfig
from .gate import RequestGate, refusal_response
from .guard import ConnectionGuard, GuardedSite, runner_options
from .ratelimit import RateLimiter
from .sealed import BOX_CONTENT_TYPE, BoxError, encode_reply
from .wire import (
    TooManyItemsError,
    WireError,
    decode_frontier,
    decode_wants,
    encode_frontier,
)

_LOGGER = logging.getLogger(__name__)

# A handler answers the opened request with (payload, more), or refuses it.
Handler = Callable[[bytes, bytes], Awaitable[tuple[bytes, bool] | web.Response]]
OLD_PROTOCOL = (
    "this node speaks the encrypted sync protocol v2 (docs/protocol.md) under {prefix}: "
    "upgrade this node"
)


class GossipServer:
    """Serves frontier, pull and push to members; counts every refused request."""

    def __init__(
        self,
        ledger: Ledger,
        identity: Identity,
        config: GossipConfig,
        gate: RequestGate | None = None,
    ) -> None:
        self.ledger = ledger
        self.identity = identity
        self.config = config
        # shared with the node's /redeem, so that both take turns from one pool
        self.gate = gate or RequestGate(config.limits)
        self.verifier = RequestVerifier(
            identity,
            ledger.community_id,
            ledger.is_member,
            config.replay_window_s,
            config.max_nonces_per_peer,
        )
        self.limiter = RateLimiter(
            config.rate_per_s, config.rate_burst, max_keys=config.limits.max_tracked_addresses
        )
        self.counters: Counter[str] = Counter()
        self._log = FloodLog(_LOGGER, config.limits.log_interval_s)
        self._max_entries = min(config.pull_max_entries, ledger.limits.max_batch_entries)
        self._max_bytes = min(config.pull_max_bytes, ledger.limits.max_batch_bytes)

    def routes(self) -> web.RouteTableDef:
        """The sync routes under config.path_prefix (and a refusal under v1's)."""
        routes = web.RouteTableDef()
        prefix = self.config.path_prefix
        routes.get(prefix + HELLO_ROUTE)(self._hello)
        routes.post(prefix + "/frontier")(self._wrap(self._frontier))
        routes.post(prefix + "/pull")(self._wrap(self._pull))
        routes.post(prefix + "/push")(self._wrap(self._push))
        if prefix != LEGACY_PATH_PREFIX:
            for route in ("/frontier", "/pull", "/push"):
                routes.post(LEGACY_PATH_PREFIX + route)(self._old_protocol)
        return routes

    def make_app(self) -> web.Application:
        """A standalone application serving only the sync routes."""
        app = web.Application(client_max_size=self.config.max_request_bytes)
        app.add_routes(self.routes())
        return app

    def _refuse(
        self, reason: str, status: int, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.counters[f"refused_{reason}"] += 1
        if status == 429:
            headers = {**(headers or {}), "Retry-After": "1"}
        return web.Response(status=status, text=reason, headers=headers)

    async def _old_protocol(self, _request: web.Request) -> web.Response:
        self.counters["refused_old_protocol"] += 1
        text = OLD_PROTOCOL.format(prefix=self.config.path_prefix)
        return web.Response(status=426, text=text, headers={"Upgrade": "p2p-energy/2"})

    async def _hello(self, request: web.Request) -> web.Response:
        """This node's key, to whoever names its community: a peer known by its address
        only learns what to box its requests to (the first reply that opens proves it)."""
        community = self.ledger.community_id.hex()
        if request.query.get("community", "").lower() != community:
            return self._refuse("wrong_community", 404)
        self.counters["hellos"] += 1
        body = {"key": self.identity.public_key.hex(), "community": community}
        return web.Response(text=json.dumps(body), content_type="application/json")

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
                return await self._serve(request, handler)

        return authenticated

    async def _serve(self, request: web.Request, handler: Handler) -> web.Response:
        limit = self.config.max_request_bytes
        try:
            verified, plaintext = await open_sealed(
                request,
                self.verifier,
                limit,
                allow=self.limiter.allow,
                body_timeout_s=self.config.limits.body_timeout_s,
            )
        except AuthError as err:
            extra = None
            if err.server_time_ms is not None:
                extra = {HEADER_SERVER_TIME: str(err.server_time_ms)}
            response = self._refuse(err.reason, err.status, extra)
            if err.reason != "rate_limited":
                # refused before authentication: the address spends its refusal budget,
                # and the connection (with whatever body was not read) is closed
                self.gate.charge(request, err.reason)
                response.force_close()
            return response
        self.counters["served"] += 1
        answer = await handler(verified.sender, plaintext)
        if isinstance(answer, web.Response):
            return answer
        payload, more = answer
        reply = encode_reply(payload, more=more, now_ms=now_ms())
        return web.Response(body=verified.channel.seal_reply(reply), content_type=BOX_CONTENT_TYPE)

    async def _frontier(self, _key: bytes, body: bytes) -> tuple[bytes, bool] | web.Response:
        try:
            decode_frontier(body, self.config.pull_max_wants)
        except TooManyItemsError:
            return self._refuse("too_many_authors", 413)
        except WireError:
            return self._refuse("malformed", 400)
        frontier = await self.ledger.frontier()
        return encode_frontier(frontier), False

    async def _pull(self, _key: bytes, body: bytes) -> tuple[bytes, bool] | web.Response:
        try:
            wants = decode_wants(body, self.config.pull_max_wants)
        except TooManyItemsError:
            return self._refuse("too_many_wants", 413)
        except WireError:
            return self._refuse("malformed", 400)
        frames, more = await self.ledger.read_ranges(wants, self._max_entries, self._max_bytes)
        return b"".join(frames), more

    async def _push(self, key: bytes, body: bytes) -> tuple[bytes, bool] | web.Response:
        try:
            result = await self.ledger.ingest(body, origin=Origin(key))
        except (sqlite3.Error, LedgerError) as err:
            # a full disk fails every push: one line per cause per interval
            self._log.log(
                logging.ERROR,
                ("store_error", type(err).__name__),
                "could not store a push from %s: %s",
                key.hex()[:16],
                err,
            )
            return self._refuse("store_error", 503)
        if result.rejected:
            _LOGGER.debug("push from %s: rejected %s", key.hex()[:16], dict(result.rejected))
        reply = {
            "accepted": len(result.accepted),
            "duplicates": result.duplicates,
            "rejected": {str(reason): n for reason, n in result.rejected.items()},
            "behind": result.behind,
        }
        return json.dumps(reply).encode(), False


async def open_sealed(
    request: web.Request,
    verifier: RequestVerifier,
    max_bytes: int,
    *,
    allow: Callable[[bytes], bool] | None = None,
    now: int | None = None,
    body_timeout_s: float | None = None,
) -> tuple[Verified, bytes]:
    """Check a sealed request from its headers, then read and open its body; raises
    AuthError. Nothing of the body is read until every header check has passed (and
    `allow`, a per-sender rate limit): a refused request costs no body bytes. The body
    must arrive within `body_timeout_s`."""
    length = request.content_length
    if length is None:
        raise AuthError("length_required", "a sealed request states its Content-Length")
    if length > max_bytes:
        raise AuthError("too_large", f"{length} bytes is over {max_bytes}")
    verified = verifier.verify(request.method, request.path, request.headers, length, now)
    if allow is not None and not allow(verified.sender):
        raise AuthError("rate_limited", "too many requests from this key")
    try:
        async with asyncio.timeout(body_timeout_s):
            box = await request.content.readexactly(length)
    except asyncio.IncompleteReadError as err:
        raise AuthError("truncated", "the body ended before its Content-Length") from err
    except TimeoutError:
        detail = f"the body did not arrive within {body_timeout_s:g} s"
        raise AuthError("body_timeout", detail) from None
    try:
        return verified, verified.channel.open_request(box)
    except BoxError as err:
        raise AuthError("auth_box", "the body does not open") from err


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
