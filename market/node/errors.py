"""Errors a node reports to its host, and why an invite was refused.

Each `reason` is the word sent on the wire, in events and as the translation key the
integration shows, so it never changes once published."""

from __future__ import annotations

from typing import ClassVar


class NodeError(Exception):
    """Base of the node's errors."""


class NodeSetupError(NodeError):
    """The data directory, the community or the configuration cannot run a node."""


class DataDirError(NodeSetupError):
    """The data directory cannot be used as it is: read-only, not ours to write, not a
    directory. The host may retry once the user has fixed it; nothing was changed."""


class OrderRejectedError(NodeError):
    """An order or cancel was refused; `reason` is a stable key (translations, events)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class InviteError(Exception):
    """An invite cannot be used; `reason` names why, the message says it for people."""

    reason: ClassVar[str] = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InviteMalformedError(InviteError):
    """The text is not an invite code (wrong prefix, or intact but not an invite)."""

    reason = "malformed"


class InviteChecksumError(InviteError):
    """The code was altered in transit or typing: its checksum does not match."""

    reason = "mistyped"


class InviteForgedError(InviteError):
    """The inviter's signature is wrong, or the inviter is not a member."""

    reason = "forged"


class InviteExpiredError(InviteError):
    """The invite's expiry has passed."""

    reason = "expired"


class InviteUsedError(InviteError):
    """The invite already admitted someone (or the newcomer is already a member)."""

    reason = "used"


class InviteQuotaError(InviteError):
    """The inviter cannot admit anyone now: it joined less than 30 days ago, or its
    invites already admitted their quota in 30 days (an admission would not count)."""

    reason = "quota"


class InviteWrongCommunityError(InviteError):
    """The invite is for another community than the node's."""

    reason = "wrong_community"


class RedeemRefusedError(InviteError):
    """The node refused the redemption request itself (the newcomer's proof of key or
    clock), not the invite."""

    reason = "bad_request"


class RedeemFailedError(InviteError):
    """No usable answer: the node is unreachable, cannot admit, or answered nonsense."""

    reason = "unreachable"


INVITE_ERRORS: dict[str, type[InviteError]] = {
    cls.reason: cls
    for cls in (
        InviteMalformedError,
        InviteChecksumError,
        InviteForgedError,
        InviteExpiredError,
        InviteUsedError,
        InviteQuotaError,
        InviteWrongCommunityError,
        RedeemRefusedError,
        RedeemFailedError,
    )
}
