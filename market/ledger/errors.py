"""Why an entry, a batch or a store operation was refused."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """One reason per validation rule; rejected entries are counted under these names."""

    MALFORMED = "malformed"
    HEADER_SIZE = "header_size"
    BODY_SIZE = "body_size"
    BATCH_SIZE = "batch_size"
    VERSION = "version"
    COMMUNITY = "community"
    UNKNOWN_KIND = "unknown_kind"
    FUTURE_TIMESTAMP = "future_timestamp"
    TIMESTAMP_REGRESS = "timestamp_regress"
    SEQ = "seq"
    PREV_HASH = "prev_hash"
    NOT_MEMBER = "not_member"
    BODY_HASH = "body_hash"
    SIGNATURE = "signature"
    BODY_SCHEMA = "body_schema"
    OFF_TERMS = "off_terms"
    INVITE = "invite"


class LedgerError(Exception):
    """Base class of the ledger's errors."""


class MalformedBatchError(LedgerError):
    """The framing of a batch is broken: no entry of it can be trusted or located."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class InvalidBodyError(LedgerError):
    """An entry body does not match its kind's schema."""


class OffTermsError(InvalidBodyError):
    """A well-formed body breaks the community's terms (`market.terms.Refusal`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class InvalidCommunityError(LedgerError):
    """A community descriptor is malformed."""


class CommunityMismatchError(LedgerError):
    """A store belongs to another community than the one it is opened with."""


class NotAMemberError(LedgerError):
    """The local identity is not (yet) a member, so its entries would be refused by peers."""


class IdentityError(LedgerError):
    """A node key file is missing, unreadable or malformed."""


class StorageError(LedgerError):
    """The store's database failed (disk full, I/O error, a read-only file): nothing of
    the call was committed, and the message says what SQLite reported."""


class StoreClosedError(LedgerError):
    """The ledger was used after close()."""


class SigningHeldError(LedgerError):
    """The node holds its signing key back until it knows its own chain's head."""
