"""Body rules that depend on the community (the per-kind schemas live in kinds.py)."""

from __future__ import annotations

from .community import Community
from .equivocation import EquivocationProof
from .errors import InvalidBodyError
from .kinds import SIMPLE_DECODERS, Kind, check_order_body
from .membership import Membership


def check_body(
    kind: int, body: bytes, author: bytes, community: Community, membership: Membership
) -> None:
    """Raise InvalidBodyError unless body is valid for kind in this community."""
    if kind == Kind.ORDER:  # most entries are orders: check them without decoding
        check_order_body(body)
        return
    decoder = SIMPLE_DECODERS.get(kind)
    if decoder is not None:
        decoder.decode(body)
        return
    if kind == Kind.GENESIS:
        if body != community.to_bytes():
            raise InvalidBodyError("genesis body is not this community's descriptor")
        if not membership.is_genesis_member(author):
            raise InvalidBodyError(f"genesis written by a non-genesis member {author.hex()}")
        return
    if kind == Kind.EQUIVOCATION:
        proof = EquivocationProof.decode(body)
        proof.check(community.community_id)
        if not membership.is_member(proof.author):
            raise InvalidBodyError(f"equivocation proof against a non-member {proof.author.hex()}")
        return
    raise InvalidBodyError(f"no schema for kind {kind}")
