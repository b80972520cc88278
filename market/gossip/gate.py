"""What every request to the node passes before it costs anything (docs/protocol.md,
"Limits"): the sender's budget of refusals, /redeem's rates, a bounded number of
requests handled at once, and a timed body read.

An address whose requests keep being refused before authentication (garbage, forged or
stale signatures, strangers) spends its budget; once it is empty its requests are
refused from their headers, with the connection closed and the body never read, so a
flood of 1 MiB garbage costs a header parse each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web

from ..logflood import FloodLog
from .config import LimitsConfig
from .ratelimit import RateLimiter

_LOGGER = logging.getLogger(__name__)

BODY_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused by the gate: `reason` names the `refused_<reason>` counter."""

    reason: str
    status: int
    detail: str
    retry_after_s: int | None = None

    def headers(self) -> dict[str, str]:
        """Retry-After for a refusal that passes with time."""
        return {} if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}


class RefusedError(Exception):
    """Raised by `RequestGate.read_body` with the refusal to answer."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.reason}: {refusal.detail}")
        self.refusal = refusal


def remote_address(request: web.Request) -> str:
    """The peer's IP address ("" when the transport does not say)."""
    return request.remote or ""


class RequestGate:
    """Per-address refusal budgets, /redeem rates, bounded concurrency and body reads.

    One gate serves both the sync routes and /redeem, so that they share the turns.
    """

    def __init__(
        self, limits: LimitsConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits = limits or LimitsConfig()
        tracked = limits.max_tracked_addresses
        self._refusals = RateLimiter(
            limits.refusal_rate_per_s, limits.refusal_burst, clock, tracked
        )
        self._redeem = RateLimiter(limits.redeem_rate_per_s, limits.redeem_burst, clock, tracked)
        self._redeem_total = RateLimiter(
            limits.redeem_total_rate_per_s, limits.redeem_total_burst, clock, 1
        )
        self._turns: asyncio.Semaphore | None = None
        self._log = FloodLog(_LOGGER, limits.log_interval_s, clock=clock)

    def screen(self, request: web.Request) -> Refusal | None:
        """A request from an address out of refusal budget, refused from its headers."""
        address = remote_address(request)
        if self._refusals.allowed(address):
            return None
        return self._refused(
            request,
            Refusal(
                "address_throttled",
                429,
                "too many refused requests from this address",
                self._refusals.retry_after_s(),
            ),
        )

    def charge(self, request: web.Request, reason: str) -> None:
        """A request refused before authentication spends its address's budget."""
        self._refusals.charge(remote_address(request))
        self._log.log(
            logging.INFO, reason, "refused a request (%s) from %s", reason, remote_address(request)
        )

    def screen_redeem(self, request: web.Request) -> Refusal | None:
        """/redeem: the refusal budget, then the address's and everyone's redeem rate."""
        refusal = self.screen(request)
        if refusal is not None:
            return refusal
        if not self._redeem.allow(remote_address(request)):
            detail = "too many redeem requests from this address"
            retry = self._redeem.retry_after_s()
            return self._refused(request, Refusal("redeem_throttled", 429, detail, retry))
        if not self._redeem_total.allow(""):
            detail = "too many redeem requests at this node: try again later"
            retry = self._redeem_total.retry_after_s()
            return self._refused(request, Refusal("redeem_throttled", 429, detail, retry))
        return None

    def _refused(self, request: web.Request, refusal: Refusal) -> Refusal:
        self._log.log(
            logging.WARNING,
            refusal.reason,
            "refusing requests (%s) from %s and maybe others",
            refusal.reason,
            remote_address(request),
        )
        return refusal

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[Refusal | None]:
        """Hold one of the `max_concurrent_requests` turns while handling a request;
        yields a `busy` refusal instead when none frees up within `busy_timeout_s`."""
        if self._turns is None:  # made on the loop that serves
            self._turns = asyncio.Semaphore(self.limits.max_concurrent_requests)
        turns = self._turns
        try:
            async with asyncio.timeout(self.limits.busy_timeout_s):
                await turns.acquire()
        except TimeoutError:
            yield Refusal("busy", 503, "the node is handling too many requests", 1)
            return
        try:
            yield None
        finally:
            turns.release()

    async def read_body(self, request: web.Request, max_bytes: int) -> bytes:
        """The body, at most `max_bytes`, read within `body_timeout_s`; raises
        RefusedError (`too_large` 413, `body_timeout` 408)."""
        if (request.content_length or 0) > max_bytes:
            raise RefusedError(Refusal("too_large", 413, f"a body is at most {max_bytes} bytes"))
        body = bytearray()
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                async for chunk in request.content.iter_chunked(BODY_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        detail = f"a body is at most {max_bytes} bytes"
                        raise RefusedError(Refusal("too_large", 413, detail))
        except TimeoutError:
            detail = f"the body did not arrive within {self.limits.body_timeout_s:g} s"
            raise RefusedError(Refusal("body_timeout", 408, detail)) from None
        return bytes(body)


def refusal_response(refusal: Refusal, *, close: bool, json: bool = False) -> web.Response:
    """The answer to a refused request; `close` ends the connection after it (a request
    refused before authentication: its unread body is not worth a keep-alive)."""
    if json:
        payload = {"reason": refusal.reason, "detail": refusal.detail}
        response = web.json_response(payload, status=refusal.status, headers=refusal.headers())
    else:
        response = web.Response(
            status=refusal.status, text=refusal.reason, headers=refusal.headers()
        )
    if close:
        response.force_close()
    return response
