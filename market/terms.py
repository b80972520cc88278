"""A community's market terms: its slot clock, price bounds, fee and clearing mechanism.

They are part of the community descriptor (so part of the community id): two nodes that
disagree on a term can never exchange entries, so they can never clear differently.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .auction import MECHANISMS, ClearingParams
from .units import energy_wh

# France, 2025 regulated prices: EDF Tarif Bleu Base 0.1952 EUR/kWh; S21 surplus buy-back
# 0.04 EUR/kWh. In ticks of 0.0001 currency/kWh.
FRENCH_RETAIL_TICKS = 1952
FRENCH_FEED_IN_TICKS = 400

MAX_SLOT_S = 86_400
MAX_PRICE = 10**9
# How far ahead of its timestamp an order may name its slot: nobody forecasts a week
# of surplus.
MAX_HORIZON_S = 7 * 86_400
# The most one order may offer or ask for: a 36 kVA connection (France's largest
# residential one) over the longest slot, a day, is 864 kWh.
MAX_ORDER_WH = 1_000_000


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an entry breaks the community's terms: a reason word and a detail for people."""

    reason: str
    detail: str


class InvalidCommunityTermsError(ValueError):
    """A market term breaks its rule; the message names the term and the value."""

    def __init__(self, term: str, rule: str, value: object) -> None:
        super().__init__(f"{term}: {rule} (got {value!r})")
        self.term = term
        self.value = value


def _check_int(term: str, value: object, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidCommunityTermsError(term, f"an integer in [{low}, {high}]", value)
    return value


# Mechanism names on the wire, by code; the code, not the name, is in the descriptor.
MECHANISM_CODES: dict[str, int] = {"uniform": 1, "pay_as_bid": 2, "midpoint": 3, "mcafee": 4}


@dataclass(frozen=True, slots=True, kw_only=True)
class CommunityTerms:
    """How a community trades. Times in seconds, prices in ticks per kWh.

    Orders for slot s are accepted while their timestamp is before the gate closure
    s - gate_lead_s; every node clears and seals at gate closure + seal_margin_s; a slot
    not final by its start (s) is disputed.

    The one type of a community's terms, and the one place that says when a gate closes,
    for the node, the agents, the services, the simulator and the benchmarks.
    """

    slot_s: int = 900
    gate_lead_s: int = 300
    seal_margin_s: int = 60
    floor: int = FRENCH_FEED_IN_TICKS
    ceiling: int = FRENCH_RETAIL_TICKS
    grid_fee: int = 0
    currency: str = "EUR"
    mechanism: str = "uniform"
    k_num: int = 1
    k_den: int = 2

    LAYOUT = struct.Struct(">III QQQ 3s B HH")

    def __post_init__(self) -> None:
        _check_int("slot_s", self.slot_s, 60, MAX_SLOT_S)
        if MAX_SLOT_S % self.slot_s:
            raise InvalidCommunityTermsError("slot_s", "must divide a day", self.slot_s)
        _check_int("gate_lead_s", self.gate_lead_s, 1, MAX_SLOT_S)
        _check_int("seal_margin_s", self.seal_margin_s, 1, MAX_SLOT_S)
        if self.seal_margin_s >= self.gate_lead_s:
            raise InvalidCommunityTermsError(
                "seal_margin_s", "must be shorter than gate_lead_s", self.seal_margin_s
            )
        _check_int("floor", self.floor, 0, MAX_PRICE)
        _check_int("ceiling", self.ceiling, self.floor, MAX_PRICE)
        _check_int("grid_fee", self.grid_fee, 0, MAX_PRICE)
        currency: object = self.currency
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isascii()) or not (
            currency.isupper() and currency.isalpha()
        ):
            raise InvalidCommunityTermsError("currency", "an ISO 4217 code", currency)
        if self.mechanism not in MECHANISM_CODES or self.mechanism not in MECHANISMS:
            rule = f"one of {sorted(MECHANISM_CODES)}"
            raise InvalidCommunityTermsError("mechanism", rule, self.mechanism)
        _check_int("k_den", self.k_den, 1, 0xFFFF)
        _check_int("k_num", self.k_num, 0, self.k_den)

    def slot_of(self, t: int) -> int:
        """Start (Unix s, UTC) of the slot containing `t`."""
        return t - t % self.slot_s

    def gate_closure(self, slot: int) -> int:
        """Orders for `slot` must be timestamped before this second."""
        return slot - self.gate_lead_s

    def is_open(self, slot: int, now: int) -> bool:
        """Whether orders for `slot` are still accepted at `now` (before `gate_closure`)."""
        # Inlined, not a call of gate_closure: the agents ask this for every slot they plan.
        return now < slot - self.gate_lead_s

    def first_open_slot(self, now: int) -> int:
        """The earliest slot whose gate is still open at `now` (Unix s)."""
        return self.slot_of(now + self.gate_lead_s) + self.slot_s

    def open_slots(self, now: int, count: int) -> tuple[int, ...]:
        """The next `count` slots whose gates are open at `now`, earliest first."""
        first = self.first_open_slot(now)
        return tuple(first + index * self.slot_s for index in range(count))

    # ------------------------------------------------------------------ entry rules
    # One rule for the node placing an order (at its clock's now) and for every node
    # storing one (at the entry's timestamp), so that a node never signs what its peers
    # refuse and every ledger holds only orders and seals that can count.

    def order_refusal(  # noqa: PLR0911 - one return per rule reads best
        self, slot: int, energy_wh: int, price: int, expires_s: int, at_ms: int
    ) -> Refusal | None:
        """Why an order signed at `at_ms` (Unix ms) breaks these terms, or None."""
        if slot <= 0 or slot % self.slot_s:
            return Refusal("unaligned_slot", f"slot {slot} is not a multiple of {self.slot_s} s")
        if at_ms >= self.gate_closure(slot) * 1000:
            return Refusal("gate_closed", f"the gate of slot {slot} has closed")
        if slot - at_ms // 1000 > MAX_HORIZON_S:
            return Refusal(
                "too_far", f"slot {slot} is more than {MAX_HORIZON_S // 86_400} days ahead"
            )
        if not 0 < energy_wh <= MAX_ORDER_WH:
            return Refusal("invalid_energy", f"energy must be 1..{MAX_ORDER_WH} Wh")
        if not 0 <= price <= self.ceiling:
            return Refusal("invalid_price", f"price must be 0..{self.ceiling} ticks (the ceiling)")
        if expires_s < 0 or (expires_s and expires_s * 1000 <= at_ms):
            return Refusal("invalid_expiry", "expires_s must be 0 or a second still to come")
        return None

    def seal_refusal(self, slot: int, at_ms: int) -> Refusal | None:
        """Why a seal signed at `at_ms` breaks these terms (a slot whose book is still
        open has nothing to seal yet), or None."""
        if slot % self.slot_s:
            return Refusal("unaligned_slot", f"slot {slot} is not a multiple of {self.slot_s} s")
        if at_ms < self.gate_closure(slot) * 1000:
            return Refusal("premature", f"slot {slot} is sealed before its gate closed")
        return None

    def reading_refusal(self, slot: int, at_ms: int) -> Refusal | None:
        """Why a meter reading signed at `at_ms` breaks these terms (a slot is measured
        once it has ended), or None."""
        if slot % self.slot_s:
            return Refusal("unaligned_slot", f"slot {slot} is not a multiple of {self.slot_s} s")
        if at_ms < (slot + self.slot_s) * 1000:
            return Refusal("premature", f"slot {slot} is read before it ended")
        return None

    def reading_closure(self, slot: int) -> int:
        """Readings of `slot` signed before this instant count in its settlement: the slot's
        end plus a gate lead, so a meter heard a few minutes late still counts."""
        return slot + self.slot_s + self.gate_lead_s

    def settle_time(self, slot: int) -> int:
        """When each node settles `slot` on the readings it holds and seals that."""
        return self.reading_closure(slot) + self.seal_margin_s

    def settle_deadline(self, slot: int) -> int:
        """A slot's settlement not final by this instant is disputed (re-judged as
        readings and seals arrive)."""
        return self.reading_closure(slot) + self.gate_lead_s

    def settle_refusal(self, slot: int, at_ms: int) -> Refusal | None:
        """Why a settlement seal signed at `at_ms` breaks these terms (it is signed once
        the slot's readings closed), or None."""
        if slot % self.slot_s:
            return Refusal("unaligned_slot", f"slot {slot} is not a multiple of {self.slot_s} s")
        if at_ms < self.reading_closure(slot) * 1000:
            return Refusal("premature", f"slot {slot} is settled before its readings closed")
        return None

    def slot_energy_wh(self, power_w: int) -> int:
        """Energy of one full slot at `power_w`."""
        return energy_wh(power_w, self.slot_s)

    def clearing_params(self) -> ClearingParams:
        """The auction's parameters under these terms."""
        return ClearingParams(
            mechanism=self.mechanism,
            k_num=self.k_num,
            k_den=self.k_den,
            floor=self.floor,
            ceiling=self.ceiling,
            grid_fee=self.grid_fee,
        )

    def seal_time(self, slot: int) -> int:
        """When each node clears `slot` and appends its seal."""
        return self.gate_closure(slot) + self.seal_margin_s

    # ------------------------------------------------------------------ encoding

    def to_bytes(self) -> bytes:
        """Canonical bytes (see docs/protocol.md, "Community descriptor")."""
        return self.LAYOUT.pack(
            self.slot_s,
            self.gate_lead_s,
            self.seal_margin_s,
            self.floor,
            self.ceiling,
            self.grid_fee,
            self.currency.encode("ascii"),
            MECHANISM_CODES[self.mechanism],
            self.k_num,
            self.k_den,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CommunityTerms:
        """Decode `to_bytes` output; raises InvalidCommunityTermsError otherwise."""
        if len(data) != cls.LAYOUT.size:
            raise InvalidCommunityTermsError("terms", f"{cls.LAYOUT.size} bytes", len(data))
        slot_s, lead, margin, floor, ceiling, fee, currency, code, k_num, k_den = cls.LAYOUT.unpack(
            data
        )
        names = {value: name for name, value in MECHANISM_CODES.items()}
        if code not in names:
            raise InvalidCommunityTermsError("mechanism", "a known code", code)
        try:
            currency_text = currency.decode("ascii")
        except UnicodeDecodeError as err:
            raise InvalidCommunityTermsError("currency", "ASCII", currency) from err
        return cls(
            slot_s=slot_s,
            gate_lead_s=lead,
            seal_margin_s=margin,
            floor=floor,
            ceiling=ceiling,
            grid_fee=fee,
            currency=currency_text,
            mechanism=names[code],
            k_num=k_num,
            k_den=k_den,
        )

    def to_json_obj(self) -> dict[str, int | str]:
        """A JSON-ready dict (also the form `from_json_obj` reads)."""
        return {
            "slot_s": self.slot_s,
            "gate_lead_s": self.gate_lead_s,
            "seal_margin_s": self.seal_margin_s,
            "floor": self.floor,
            "ceiling": self.ceiling,
            "grid_fee": self.grid_fee,
            "currency": self.currency,
            "mechanism": self.mechanism,
            "k_num": self.k_num,
            "k_den": self.k_den,
        }

    @classmethod
    def from_json_obj(cls, raw: object) -> CommunityTerms:
        """Terms from a dict; missing keys take their defaults, unknown keys are refused."""
        if not isinstance(raw, dict):
            raise InvalidCommunityTermsError("terms", "a JSON object", raw)
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise InvalidCommunityTermsError("terms", "known keys only", sorted(unknown))
        return cls(**raw)
