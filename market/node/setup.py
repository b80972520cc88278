"""Making a data directory a member of a community: create one, or join with an invite."""

from __future__ import annotations

import asyncio

import aiohttp

from ..ledger.community import Community
from ..terms import CommunityTerms
from .datadir import DataDir
from .invite import Invite
from .redeem_client import RedeemResult, redeem_invite


async def create_community(
    data: DataDir, name: str, terms: CommunityTerms, *, now_ms: int
) -> Community:
    """A new community whose only genesis member is this node; recorded in `data`."""
    loop = asyncio.get_running_loop()
    identity = await loop.run_in_executor(None, data.identity)
    community = Community.create(name, now_ms, [identity.public_key], terms)
    await loop.run_in_executor(None, data.save_community, community)
    return community


async def join_with_invite(
    data: DataDir,
    code: str,
    session: aiohttp.ClientSession,
    *,
    now_ms: int,
    url: str | None = None,
) -> tuple[Invite, RedeemResult]:
    """Redeem `code` with the inviting node (or the node at `url`) and record the
    community and that node as a first peer. Raises the invite's `InviteError`."""
    invite = Invite.decode(code)
    loop = asyncio.get_running_loop()
    identity = await loop.run_in_executor(None, data.identity)
    result = await redeem_invite(session, invite, identity, now_ms=now_ms, url=url)
    peer = url or f"http://{invite.address}"
    await loop.run_in_executor(None, data.save_community, invite.community)
    # read and written off the event loop, both (Home Assistant reports a blocking read)
    await loop.run_in_executor(None, _add_peer, data, peer)
    return invite, result


def _add_peer(data: DataDir, peer: str) -> None:
    data.save_peers([*data.peers(), peer])
