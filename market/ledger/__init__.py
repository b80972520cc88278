"""market.ledger: the signed, append-only, per-author entry logs of a community.

Public API (see docs/protocol.md for the byte layouts and rules):
`Ledger` (async, the node's store), `Origin` (the peer that sent entries), `LedgerStore`
(the same, synchronous), `Identity` / `load_or_create_identity`, `Community`, `Kind` and
the body classes, `Entry`, `EquivocationProof`, `RejectReason`, `verify_store`.
"""

from .codec import Entry, Limits
from .community import Community
from .equivocation import EquivocationProof
from .errors import LedgerError, RejectReason
from .identity import Identity, load_or_create_identity
from .kinds import (
    AdmitBody,
    CancelBody,
    Kind,
    OrderBody,
    ReadingBody,
    RevokeBody,
    RotateBody,
    SealBody,
    SettleBody,
    Side,
)
from .ledger import Ledger, Origin
from .store import LedgerStore
from .validation import IngestResult
from .verify import verify_store

__all__ = [
    "AdmitBody",
    "CancelBody",
    "Community",
    "Entry",
    "EquivocationProof",
    "Identity",
    "IngestResult",
    "Kind",
    "Ledger",
    "LedgerError",
    "LedgerStore",
    "Limits",
    "OrderBody",
    "Origin",
    "ReadingBody",
    "RejectReason",
    "RevokeBody",
    "RotateBody",
    "SealBody",
    "SettleBody",
    "Side",
    "load_or_create_identity",
    "verify_store",
]
