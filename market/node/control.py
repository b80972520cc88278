"""The headless node's control API: its host's place / cancel / book / surplus /
outcome / status as JSON over HTTP on a Unix socket (`python -m market node --control-socket PATH`).

A Unix socket rather than a TCP port: only this machine's users that the socket file's
mode (0600) admits can reach it, so the API needs no authentication of its own and
adds nothing a LAN neighbour can touch. The same file is reachable from every network
namespace, which lets the fault suite drive nodes that live in separate ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .. import jsontext
from ..model import Side
from .errors import OrderRejectedError
from .events import SlotCleared

if TYPE_CHECKING:
    from .node import Node
    from .views import SlotOutcome

PREFIX = "/v1"
# An order is a handful of small fields; anything bigger is not one.
MAX_BODY_BYTES = 4096
# How long `leave` may wait for a peer to confirm it holds the revoke.
MAX_CONFIRM_S = 120
_ORDER_FIELDS = {"side", "energy_wh", "price", "slot", "expires_s"}

JsonHandler = Callable[[web.Request], Awaitable[web.Response]]


class ControlApi:
    """Serves one node's host API on a Unix socket until `stop`."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        """The routes (also used by the tests without a socket)."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(PREFIX + "/orders", self._place)
        app.router.add_delete(PREFIX + "/orders/{order_id}", self._cancel)
        app.router.add_get(PREFIX + "/orders/{order_id}", self._held)
        app.router.add_get(PREFIX + "/slots/{slot}/book", self._book)
        app.router.add_get(PREFIX + "/surplus", self._surplus)
        app.router.add_get(PREFIX + "/outcomes", self._outcomes)
        app.router.add_get(PREFIX + "/status", self._status)
        app.router.add_get(PREFIX + "/heads", self._heads)
        app.router.add_post(PREFIX + "/membership/leave", self._leave)
        app.router.add_post(PREFIX + "/membership/rotate-key", self._rotate)
        app.router.add_post(PREFIX + "/members/{key}/remove", self._remove)
        app.router.add_post(PREFIX + "/members/{key}/replace/{successor}", self._replace)
        return app

    async def start(self, path: Path) -> None:
        """Listen on `path` (a stale socket file from a killed run is replaced)."""
        path.unlink(missing_ok=True)
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        # Created under a umask that leaves the owner alone on it: no window in which
        # another user could connect before a chmod.
        previous = os.umask(0o177)
        try:
            await web.UnixSite(self._runner, str(path)).start()
        finally:
            os.umask(previous)

    async def stop(self) -> None:
        """Close the socket and every open request."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _place(self, request: web.Request) -> web.Response:
        try:
            raw = jsontext.loads(await request.text())
            order = _order_fields(raw)
        except (ValueError, UnicodeDecodeError) as err:
            return _refused("malformed", str(err), 400)
        try:
            order_id = await self.node.place_order(
                order["side"],
                order["energy_wh"],
                order["price"],
                order["slot"],
                expires_s=order["expires_s"],
            )
        except OrderRejectedError as err:
            return _refused(err.reason, err.detail, 409)
        return web.json_response({"order_id": order_id})

    async def _cancel(self, request: web.Request) -> web.Response:
        try:
            await self.node.cancel_order(request.match_info["order_id"])
        except OrderRejectedError as err:
            return _refused(err.reason, err.detail, 409)
        return web.json_response({})

    async def _held(self, request: web.Request) -> web.Response:
        held = self.node.held_order(request.match_info["order_id"])
        if held is None:
            return _refused("unknown_order", "no order of that id is held", 404)
        return web.json_response(
            {
                "order_id": held.order_id,
                "node_id": held.author.hex(),
                "slot": held.slot,
                "side": str(held.side),
                "energy_wh": held.energy_wh,
                "price": held.price,
                "expires_s": held.expires_s,
                "placed_ms": held.timestamp_ms,
            }
        )

    async def _book(self, request: web.Request) -> web.Response:
        try:
            slot = int(request.match_info["slot"])
        except ValueError:
            return _refused("malformed", "the slot is a Unix second", 400)
        book = [dataclasses.asdict(order) for order in self.node.order_book(slot)]
        return web.json_response(book)

    async def _surplus(self, request: web.Request) -> web.Response:
        try:
            count = int(request.query.get("count", "8"))
        except ValueError:
            return _refused("malformed", "count is a number of slots", 400)
        forecast = self.node.surplus_forecast(count=count)
        return web.json_response([dataclasses.asdict(slot) for slot in forecast])

    async def _outcomes(self, _request: web.Request) -> web.Response:
        return web.json_response([outcome_json(outcome) for outcome in self.node.outcomes()])

    async def _status(self, _request: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(self.node.status()))

    async def _leave(self, request: web.Request) -> web.Response:
        try:
            timeout_s = _confirm_timeout(jsontext.loads(await request.text() or "{}"))
        except (ValueError, UnicodeDecodeError) as err:
            return _refused("malformed", str(err), 400)
        try:
            confirmed = await self.node.leave(confirm_timeout_s=timeout_s)
        except OrderRejectedError as err:
            return _refused(err.reason, err.detail, 409)
        return web.json_response({"left": True, "confirmed_by_a_peer": confirmed})

    async def _rotate(self, _request: web.Request) -> web.Response:
        try:
            new_key = await self.node.rotate_key()
        except OrderRejectedError as err:
            return _refused(err.reason, err.detail, 409)
        return web.json_response({"new_node_id": new_key, "restart": True})

    async def _remove(self, request: web.Request) -> web.Response:
        try:
            member = bytes.fromhex(request.match_info["key"])
        except ValueError:
            return _refused("malformed", "the key is 64 hex digits", 400)
        try:
            await self.node.vote_to_remove(member)
        except OrderRejectedError as err:
            return _refused(err.reason, err.detail, 409)
        return web.json_response({"voted": member.hex()})

    async def _replace(self, request: web.Request) -> web.Response:
        try:
            member = bytes.fromhex(request.match_info["key"])
            successor = bytes.fromhex(request.match_info["successor"])
        except ValueError:
            return _refused("malformed", "the keys are 64 hex digits", 400)
        try:
            await self.node.vote_to_replace(member, successor)
        except OrderRejectedError as err:
            return _refused(err.reason, err.detail, 409)
        return web.json_response({"voted": member.hex(), "successor": successor.hex()})

    async def _heads(self, _request: web.Request) -> web.Response:
        frontier = await self.node.ledger.frontier()
        heads = {author.hex(): [seq, head.hex()] for author, (seq, head) in frontier.items()}
        return web.json_response(heads)


def outcome_json(outcome: SlotOutcome) -> dict[str, Any]:
    """A decided slot as the API shows it: enough to compare verdicts across nodes."""
    verdict = outcome.verdict
    return {
        "slot": outcome.slot,
        "state": str(outcome.state),
        "reason": verdict.reason,
        "order_root": None if verdict.order_root is None else verdict.order_root.hex(),
        "result_hash": None if verdict.result_hash is None else verdict.result_hash.hex(),
        "result": None if outcome.result is None else outcome.result.to_json_obj(),
        "late": isinstance(outcome.event, SlotCleared) and outcome.event.late,
    }


class _MalformedError(ValueError):
    """A request body that is not an order."""


def _order_fields(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _MalformedError("an order is a JSON object")
    unknown = set(raw) - _ORDER_FIELDS
    if unknown:
        raise _MalformedError(f"unknown fields {sorted(unknown)}")
    try:
        side = Side(raw["side"])
    except (KeyError, ValueError) as err:
        raise _MalformedError("side is 'buy' or 'sell'") from err
    fields: dict[str, Any] = {"side": side, "expires_s": raw.get("expires_s", 0)}
    for name in ("energy_wh", "price", "slot"):
        if name not in raw:
            raise _MalformedError(f"{name} is missing")
        fields[name] = raw[name]
    # the node checks types and ranges itself (not_integer, invalid_energy, ...)
    return fields


def _confirm_timeout(raw: object) -> float:
    value = raw.get("confirm_timeout_s", 0) if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _MalformedError("confirm_timeout_s is a number of seconds")
    if not 0 <= value <= MAX_CONFIRM_S:
        raise _MalformedError(f"confirm_timeout_s is 0..{MAX_CONFIRM_S} seconds")
    return float(value)


def _refused(reason: str, detail: str, status: int) -> web.Response:
    return web.json_response({"reason": reason, "detail": detail}, status=status)


class ControlError(Exception):
    """The node refused a request; `reason` is its documented reason word."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail


class ControlClient:
    """A host's (a script's, a test's) client of a node's control socket."""

    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(path)),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )

    async def close(self) -> None:
        """Close the connections."""
        await self._session.close()

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def request(self, method: str, path: str, body: object = None) -> Any:
        """The JSON answer; raises ControlError for a refusal (any non-2xx answer)."""
        url = "http://node" + PREFIX + path
        async with self._session.request(method, url, json=body) as response:
            text = await response.text()
            if response.status >= 300:
                try:
                    raw = jsontext.loads(text)
                    reason, detail = str(raw["reason"]), str(raw["detail"])
                except (ValueError, KeyError, TypeError):
                    reason, detail = "http", text[:200]
                raise ControlError(response.status, reason, detail)
            return jsontext.loads(text)

    async def place_order(
        self, side: str, energy_wh: int, price: int, slot: int, expires_s: int = 0
    ) -> str:
        """Place an order; returns its id (raises ControlError with the node's reason)."""
        order = {
            "side": side,
            "energy_wh": energy_wh,
            "price": price,
            "slot": slot,
            "expires_s": expires_s,
        }
        answer = await self.request("POST", "/orders", order)
        return str(answer["order_id"])

    async def status(self) -> dict[str, Any]:
        """The node's status (docs/node.md, "The node API")."""
        result: dict[str, Any] = await self.request("GET", "/status")
        return result

    async def surplus(self, count: int = 8) -> list[dict[str, Any]]:
        """The next `count` open slots' books cleared now (Node.surplus_forecast)."""
        result: list[dict[str, Any]] = await self.request("GET", f"/surplus?count={count}")
        return result

    async def outcomes(self) -> list[dict[str, Any]]:
        """Decided slots still remembered, oldest first."""
        result: list[dict[str, Any]] = await self.request("GET", "/outcomes")
        return result

    async def heads(self) -> dict[str, list[Any]]:
        """{author hex: [seq, head hash hex]} of every chain the node holds."""
        result: dict[str, list[Any]] = await self.request("GET", "/heads")
        return result

    async def held(self, order_id: str) -> dict[str, Any]:
        """An order of any member, while its slot is remembered (ControlError 404 if not)."""
        result: dict[str, Any] = await self.request("GET", f"/orders/{order_id}")
        return result

    async def leave(self, confirm_timeout_s: float = 0.0) -> dict[str, Any]:
        """Leave the community (see Node.leave)."""
        body = {"confirm_timeout_s": confirm_timeout_s}
        result: dict[str, Any] = await self.request("POST", "/membership/leave", body)
        return result

    async def rotate_key(self) -> dict[str, Any]:
        """Hand the membership on to a new key; the node must then be restarted."""
        result: dict[str, Any] = await self.request("POST", "/membership/rotate-key")
        return result

    async def vote_to_remove(self, member_hex: str) -> dict[str, Any]:
        """Vote to remove the household of this key."""
        result: dict[str, Any] = await self.request("POST", f"/members/{member_hex}/remove")
        return result

    async def vote_to_replace(self, member_hex: str, successor_hex: str) -> dict[str, Any]:
        """Vote to replace a household's lost key by its new one."""
        path = f"/members/{member_hex}/replace/{successor_hex}"
        result: dict[str, Any] = await self.request("POST", path)
        return result

    async def book(self, slot: int) -> list[dict[str, Any]]:
        """Every order held for `slot`, with its status."""
        result: list[dict[str, Any]] = await self.request("GET", f"/slots/{slot}/book")
        return result
