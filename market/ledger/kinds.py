"""Entry kinds and their body schemas (protocol v1, big-endian, fixed positions).

Bodies are positional structs: compact, and unambiguous to decode in any language.
Like headers they are never re-encoded; decoding only checks them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Self

from .errors import InvalidBodyError

MAX_ENERGY_WH = 10**9
MAX_PRICE_TICKS = 10**9
MAX_METER_WH = 10**12


class Kind(IntEnum):
    """Entry kinds."""

    GENESIS = 1
    ADMIT = 2
    REVOKE = 3
    ROTATE = 4
    ORDER = 16
    CANCEL = 17
    SEAL = 18
    READING = 19
    SETTLE = 20
    EQUIVOCATION = 32


ACCEPTED_KINDS = frozenset(
    {
        Kind.GENESIS,
        Kind.ADMIT,
        Kind.REVOKE,
        Kind.ROTATE,
        Kind.ORDER,
        Kind.CANCEL,
        Kind.SEAL,
        Kind.READING,
        Kind.SETTLE,
        Kind.EQUIVOCATION,
    }
)


class Side(IntEnum):
    """Order side as encoded in the body."""

    BUY = 1
    SELL = 2


def _unpack(layout: struct.Struct, body: bytes, kind: str) -> tuple[Any, ...]:
    if len(body) != layout.size:
        raise InvalidBodyError(f"{kind} body must be {layout.size} bytes, got {len(body)}")
    return layout.unpack(body)


def check_order_fields(slot: int, side: int, energy_wh: int, price: int, expires_s: int) -> None:
    """Raise InvalidBodyError unless the fields make a valid order."""
    if slot <= 0:
        raise InvalidBodyError(f"order slot must be > 0: {slot}")
    if side not in (Side.BUY, Side.SELL):
        raise InvalidBodyError(f"order side must be 1 (buy) or 2 (sell): {side}")
    if not 0 < energy_wh <= MAX_ENERGY_WH:
        raise InvalidBodyError(f"order energy_wh out of range: {energy_wh}")
    if not 0 <= price <= MAX_PRICE_TICKS:
        raise InvalidBodyError(f"order price out of range: {price}")
    if expires_s < 0:
        raise InvalidBodyError(f"order expires_s must be >= 0: {expires_s}")


_ORDER_LAYOUT = struct.Struct(">QBQQQ")


def check_order_body(body: bytes) -> tuple[int, int, int, int, int]:
    """Validate order body bytes without building an OrderBody (the ingest hot path);
    returns (slot, side, energy_wh, price, expires_s)."""
    if len(body) != _ORDER_LAYOUT.size:
        raise InvalidBodyError(f"order body must be {_ORDER_LAYOUT.size} bytes, got {len(body)}")
    fields: tuple[int, int, int, int, int] = _ORDER_LAYOUT.unpack(body)
    check_order_fields(*fields)
    return fields


@dataclass(frozen=True, slots=True)
class OrderBody:
    """An offer to buy or sell energy_wh in the slot starting at `slot` (Unix s, UTC).

    price is a limit in ticks (0.0001 currency/kWh); expires_s = 0 means the order lives
    until the slot's gate closure, otherwise it is void from that Unix second on.
    """

    LAYOUT: ClassVar[struct.Struct] = _ORDER_LAYOUT
    slot: int
    side: Side
    energy_wh: int
    price: int
    expires_s: int = 0

    def __post_init__(self) -> None:
        check_order_fields(self.slot, self.side, self.energy_wh, self.price, self.expires_s)

    def encode(self) -> bytes:
        """Body bytes."""
        return self.LAYOUT.pack(self.slot, self.side, self.energy_wh, self.price, self.expires_s)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        slot, side, energy_wh, price, expires_s = _unpack(cls.LAYOUT, body, "order")
        if side not in (1, 2):
            raise InvalidBodyError(f"order side must be 1 (buy) or 2 (sell): {side}")
        return cls(slot, Side(side), energy_wh, price, expires_s)


@dataclass(frozen=True, slots=True)
class CancelBody:
    """Withdraws an order, named by its entry hash (only the order's author may cancel)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct(">32s")
    order_hash: bytes

    def __post_init__(self) -> None:
        if len(self.order_hash) != 32:
            raise InvalidBodyError(f"cancel needs a 32-byte hash: {self.order_hash.hex()}")

    def encode(self) -> bytes:
        """Body bytes."""
        return self.LAYOUT.pack(self.order_hash)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        (order_hash,) = _unpack(cls.LAYOUT, body, "cancel")
        return cls(order_hash)


@dataclass(frozen=True, slots=True)
class SealBody:
    """A node's clearing result for a slot: the root of the order set it used and the
    hash of the result it computed."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct(">Q32s32s")
    slot: int
    order_root: bytes
    result_hash: bytes

    def __post_init__(self) -> None:
        if self.slot <= 0:
            raise InvalidBodyError(f"seal slot must be > 0: {self.slot}")
        if len(self.order_root) != 32 or len(self.result_hash) != 32:
            raise InvalidBodyError("seal root and result hash are 32 bytes each")

    def encode(self) -> bytes:
        """Body bytes."""
        return self.LAYOUT.pack(self.slot, self.order_root, self.result_hash)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        slot, root, result = _unpack(cls.LAYOUT, body, "seal")
        return cls(slot, root, result)


@dataclass(frozen=True, slots=True)
class ReadingBody:
    """Metered energy of the author's household over one slot (Wh); `estimated` when it
    was integrated from power samples, not read from an energy index."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct(">QQQB")
    ESTIMATED: ClassVar[int] = 1
    slot: int
    import_wh: int
    export_wh: int
    estimated: bool = False

    def __post_init__(self) -> None:
        if self.slot <= 0:
            raise InvalidBodyError(f"reading slot must be > 0: {self.slot}")
        for value in (self.import_wh, self.export_wh):
            if not 0 <= value <= MAX_METER_WH:
                raise InvalidBodyError(f"reading energy out of range: {value}")

    def encode(self) -> bytes:
        """Body bytes."""
        flags = self.ESTIMATED if self.estimated else 0
        return self.LAYOUT.pack(self.slot, self.import_wh, self.export_wh, flags)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        slot, import_wh, export_wh, flags = _unpack(cls.LAYOUT, body, "reading")
        if flags & ~cls.ESTIMATED:
            raise InvalidBodyError(f"unknown reading flags: {flags:#04x}")
        return cls(slot, import_wh, export_wh, bool(flags))


@dataclass(frozen=True, slots=True)
class SettleBody:
    """A node's settlement of a slot: the root of the readings it used and the hash of the
    allocation it computed (market.settlement.public)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct(">Q32s32s")
    slot: int
    readings_root: bytes
    result_hash: bytes

    def __post_init__(self) -> None:
        if self.slot <= 0:
            raise InvalidBodyError(f"settle slot must be > 0: {self.slot}")
        if len(self.readings_root) != 32 or len(self.result_hash) != 32:
            raise InvalidBodyError("settle root and result hash are 32 bytes each")

    def encode(self) -> bytes:
        """Body bytes."""
        return self.LAYOUT.pack(self.slot, self.readings_root, self.result_hash)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        slot, root, result = _unpack(cls.LAYOUT, body, "settle")
        return cls(slot, root, result)


NO_INVITE = bytes(32)
MAX_ADDRESS_BYTES = 255


@dataclass(frozen=True, slots=True)
class AdmitBody:
    """Makes `member` (an Ed25519 public key) a member of the community, with the proof
    that a member invited it (docs/protocol.md, "Kinds and bodies" and "Admission").

    invite_tag is the invite's public key (derived from the code's secret); inviter,
    expires_s, address and inviter_signature are the invite's own fields and signature,
    and binding is the invite key's signature over the admitted key, so the tag of an
    admit seen on the ledger cannot be reused for another key. Whether the proof holds
    is checked by market.ledger.admission, not here: this is the layout only.
    """

    HEAD: ClassVar[struct.Struct] = struct.Struct(">32s32s32sQ64s64sB")
    member: bytes
    invite_tag: bytes
    inviter: bytes
    expires_s: int
    inviter_signature: bytes
    binding: bytes
    address: str

    def __post_init__(self) -> None:
        if len(self.member) != 32 or len(self.invite_tag) != 32 or len(self.inviter) != 32:
            raise InvalidBodyError("admit key, invite tag and inviter are 32 bytes each")
        if len(self.inviter_signature) != 64 or len(self.binding) != 64:
            raise InvalidBodyError("admit signatures are 64 bytes each")
        if not 0 <= self.expires_s < 2**64:
            raise InvalidBodyError(f"admit expiry out of range: {self.expires_s}")
        raw = self.address.encode("ascii", "replace")
        if not (self.address.isascii() and self.address.isprintable()):
            raise InvalidBodyError(f"admit address must be printable ASCII: {self.address!r}")
        if not 1 <= len(raw) <= MAX_ADDRESS_BYTES:
            raise InvalidBodyError(f"admit address must be 1..{MAX_ADDRESS_BYTES} bytes")

    def encode(self) -> bytes:
        """Body bytes."""
        address = self.address.encode("ascii")
        head = self.HEAD.pack(
            self.member,
            self.invite_tag,
            self.inviter,
            self.expires_s,
            self.inviter_signature,
            self.binding,
            len(address),
        )
        return head + address

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        size = cls.HEAD.size
        if len(body) <= size or len(body) != size + body[size - 1]:
            raise InvalidBodyError(f"admit body length does not match its layout: {len(body)}")
        member, tag, inviter, expires_s, signature, binding, _n = cls.HEAD.unpack_from(body)
        try:
            address = body[size:].decode("ascii")
        except UnicodeDecodeError as err:
            raise InvalidBodyError(f"admit address is not ASCII: {err}") from err
        return cls(member, tag, inviter, expires_s, signature, binding, address)


@dataclass(frozen=True, slots=True)
class RevokeBody:
    """Ends `target`'s membership: signed by the target itself, it leaves; signed by
    another member, it is that member's vote to remove the target, or, with a
    `successor`, to replace the target's key by the successor's (a household that lost
    its key: docs/protocol.md, "Revocation"). Whether it takes effect is
    market.ledger.admission's to decide."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct(">32s")
    REPLACE_LAYOUT: ClassVar[struct.Struct] = struct.Struct(">32s32s")
    target: bytes
    successor: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.target) != 32:
            raise InvalidBodyError(f"revoke needs a 32-byte key: {self.target.hex()}")
        if self.successor is not None:
            if len(self.successor) != 32:
                raise InvalidBodyError("a revoke's successor is a 32-byte key")
            if self.successor == self.target:
                raise InvalidBodyError("a key cannot be replaced by itself")

    def encode(self) -> bytes:
        """Body bytes."""
        if self.successor is None:
            return self.LAYOUT.pack(self.target)
        return self.REPLACE_LAYOUT.pack(self.target, self.successor)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        if len(body) == cls.REPLACE_LAYOUT.size:
            target, successor = cls.REPLACE_LAYOUT.unpack(body)
            return cls(target, successor)
        (target,) = _unpack(cls.LAYOUT, body, "revoke")
        return cls(target)


@dataclass(frozen=True, slots=True)
class RotateBody:
    """Hands the author's membership on to `new_key`; `proof` is the new key's signature
    over the rotate message (market.ledger.revocation.rotate_message), so nobody can
    rotate onto a key it does not hold (docs/protocol.md, "Rotation")."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct(">32s64s")
    new_key: bytes
    proof: bytes

    def __post_init__(self) -> None:
        if len(self.new_key) != 32 or len(self.proof) != 64:
            raise InvalidBodyError("rotate needs a 32-byte key and a 64-byte signature")

    def encode(self) -> bytes:
        """Body bytes."""
        return self.LAYOUT.pack(self.new_key, self.proof)

    @classmethod
    def decode(cls, body: bytes) -> Self:
        """Check and decode body bytes."""
        new_key, proof = _unpack(cls.LAYOUT, body, "rotate")
        return cls(new_key, proof)


SimpleBody = (
    OrderBody
    | CancelBody
    | SealBody
    | ReadingBody
    | SettleBody
    | AdmitBody
    | RevokeBody
    | RotateBody
)

SIMPLE_DECODERS: dict[int, type[SimpleBody]] = {
    Kind.ORDER: OrderBody,
    Kind.CANCEL: CancelBody,
    Kind.SEAL: SealBody,
    Kind.READING: ReadingBody,
    Kind.SETTLE: SettleBody,
    Kind.ADMIT: AdmitBody,
    Kind.REVOKE: RevokeBody,
    Kind.ROTATE: RotateBody,
}


def granted_key(kind: int, body: bytes) -> bytes | None:
    """The key an entry lets write from now on (admit, rotate), for the write-membership:
    it only grows, so whether an entry is stored never depends on arrival order."""
    if kind == Kind.ADMIT:
        return AdmitBody.decode(body).member
    if kind == Kind.ROTATE:
        return RotateBody.decode(body).new_key
    return None
