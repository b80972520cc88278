"""The newcomer's side of redeeming an invite (docs/protocol.md, "Redeeming an invite"):
the request sealed to the inviter's key, and the answer, which must open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp
from yarl import URL

from .. import jsontext
from ..gossip.auth import seal_request
from ..gossip.sealed import BOX_CONTENT_TYPE, BoxError, decode_reply
from ..ledger.community import Community
from ..ledger.errors import InvalidCommunityError
from ..ledger.identity import Identity
from .errors import INVITE_ERRORS, InviteError, InviteForgedError, RedeemFailedError
from .invite import Invite
from .redeem import (
    DEFAULT_PATH_PREFIX,
    DEFAULT_TIMEOUT_S,
    MAX_REPLY_BYTES,
    PLAINTEXT_REASONS,
    REDEEM_ROUTE,
    WRONG_NODE,
    redeem_message,
)


@dataclass(frozen=True, slots=True)
class RedeemResult:
    """A successful redemption: `member` is admitted by the node whose key is `by`."""

    member: bytes
    by: bytes
    community: Community


async def redeem_invite(
    session: aiohttp.ClientSession,
    invite: Invite,
    identity: Identity,
    *,
    now_ms: int,
    url: str | None = None,
    path_prefix: str = DEFAULT_PATH_PREFIX,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RedeemResult:
    """Redeem `invite` for `identity` at the invite's address (or at base `url`), sealed
    to the inviter's key.

    Raises the InviteError subclass named by the node's refusal, or RedeemFailedError
    when there is no usable answer.
    """
    payload = {
        "invite": invite.encode(),
        "member": identity.public_key.hex(),
        "ts": now_ms,
        "signature": identity.sign(
            redeem_message(invite.community.community_id, invite.tag, identity.public_key, now_ms)
        ).hex(),
    }
    return await post_redeem(
        session,
        invite,
        identity,
        json.dumps(payload).encode(),
        now_ms=now_ms,
        url=url,
        path_prefix=path_prefix,
        timeout_s=timeout_s,
    )


async def post_redeem(
    session: aiohttp.ClientSession,
    invite: Invite,
    identity: Identity,
    plaintext: bytes,
    *,
    now_ms: int,
    url: str | None = None,
    path_prefix: str = DEFAULT_PATH_PREFIX,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RedeemResult:
    """Seal `plaintext` (a redeem request's JSON) to the invite's inviter, post it and
    read the answer (redeem_invite's transport; tests send broken requests with it)."""
    base = f"http://{invite.address}" if url is None else url.rstrip("/")
    target = base + path_prefix + REDEEM_ROUTE
    community_id = invite.community.community_id
    sealed = seal_request(
        identity,
        invite.inviter,
        "POST",
        URL(target).path,
        community_id,
        plaintext,
        ts_ms=now_ms,
    )
    headers = {**sealed.headers, "Content-Type": BOX_CONTENT_TYPE}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.post(
            target, data=sealed.body, headers=headers, timeout=timeout
        ) as response:
            status = response.status
            boxed = response.content_type == BOX_CONTENT_TYPE
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) > MAX_REPLY_BYTES:
                    raise RedeemFailedError(f"{target} replied with over {MAX_REPLY_BYTES} bytes")
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise RedeemFailedError(f"{target}: {type(err).__name__}: {err}") from err
    if not boxed:
        raise _refusal(bytes(data), status, target, trusted=PLAINTEXT_REASONS)
    try:
        opened = decode_reply(sealed.channel.open_reply(bytes(data))).payload
    except BoxError as err:
        raise RedeemFailedError(
            f"{target} sent an answer that does not open: it is not the inviter's node"
        ) from err
    return _answer(opened, status, invite, identity, target)


def _answer(
    data: bytes, status: int, invite: Invite, identity: Identity, target: str
) -> RedeemResult:
    try:
        raw = jsontext.loads(data)
        if "reason" in raw:
            raise _refusal(data, status, target, trusted=None)
        member = bytes.fromhex(raw["admitted"])
        by = bytes.fromhex(raw["by"])
        community = Community.from_bytes(bytes.fromhex(raw["community"]))
    except (ValueError, KeyError, TypeError, InvalidCommunityError) as err:
        raise RedeemFailedError(f"{target} sent a malformed reply: {err}") from err
    if member != identity.public_key or by != invite.inviter:
        raise RedeemFailedError(f"{target} admitted another key than ours")
    if community.community_id != invite.community.community_id:
        raise RedeemFailedError(f"{target} answered for another community")
    return RedeemResult(member, by, community)


def _refusal(data: bytes, status: int, target: str, trusted: frozenset[str] | None) -> InviteError:
    """The error a refusal names; from a plaintext one, only a `trusted` reason."""
    try:
        raw = jsontext.loads(data)
        reason, detail = str(raw["reason"]), str(raw["detail"])
    except (ValueError, KeyError, TypeError):
        return RedeemFailedError(f"{target} answered {status}")
    # the node at the invite's address does not hold the inviter's key: as far as this
    # newcomer can tell, the invite was not made there
    error_class = InviteForgedError if reason == WRONG_NODE else INVITE_ERRORS.get(reason)
    if error_class is None or (trusted is not None and reason not in trusted):
        return RedeemFailedError(f"{target} answered {status} ({reason}): {detail}")
    return error_class(detail)
