"""A hand-made peer that speaks the encrypted transport (hello, sealed requests and
replies) with answers the test chooses: a hostile or broken peer, not a GossipServer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from market.gossip.auth import HEADER_SERVER_TIME, AuthError, RequestVerifier, now_ms
from market.gossip.config import PATH_PREFIX
from market.gossip.sealed import BOX_CONTENT_TYPE, encode_reply
from market.gossip.server import open_sealed, start_site
from market.ledger.identity import Identity

# route -> plaintext request -> (reply payload, more)
Answer = Callable[[bytes], Awaitable[tuple[bytes, bool]]]


def sealed_peer_app(
    identity: Identity,
    community_id: bytes,
    answers: dict[str, Answer],
    tamper: Callable[[bytes], bytes] = lambda box: box,
    clock_offset_ms: int = 0,
) -> web.Application:
    """An app answering `/hello` with `identity`'s key and each route of `answers` with a
    sealed reply (passed through `tamper` on its way out), its clock `clock_offset_ms`
    from the wall clock."""
    verifier = RequestVerifier(identity, community_id, None)

    async def hello(_request: web.Request) -> web.Response:
        body = {"key": identity.public_key.hex(), "community": community_id.hex()}
        return web.json_response(body)

    def route(answer: Answer) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                now = now_ms() + clock_offset_ms
                verified, plaintext = await open_sealed(request, verifier, 1 << 21, now=now)
            except AuthError as err:
                headers = None
                if err.server_time_ms is not None:
                    headers = {HEADER_SERVER_TIME: str(err.server_time_ms)}
                return web.Response(status=err.status, text=err.reason, headers=headers)
            payload, more = await answer(plaintext)
            reply = encode_reply(payload, more=more, now_ms=now_ms() + clock_offset_ms)
            reply = verified.channel.seal_reply(reply)
            return web.Response(body=tamper(reply), content_type=BOX_CONTENT_TYPE)

        return handle

    app = web.Application()
    app.router.add_get(PATH_PREFIX + "/hello", hello)
    for name, answer in answers.items():
        app.router.add_post(PATH_PREFIX + name, route(answer))
    return app


async def serve_sealed_peer(
    identity: Identity,
    community_id: bytes,
    answers: dict[str, Answer],
    tamper: Callable[[bytes], bytes] = lambda box: box,
    clock_offset_ms: int = 0,
) -> tuple[web.AppRunner, str]:
    """Serve sealed_peer_app on a free loopback port; returns the runner and its URL."""
    app = sealed_peer_app(identity, community_id, answers, tamper, clock_offset_ms)
    runner, port = await start_site(app, "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}"
