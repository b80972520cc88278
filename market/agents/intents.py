"""Order intents, decisions, and the per-agent book that turns targets into them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model import Order, Side
from ..terms import CommunityTerms
from .inputs import SlotResult

# Results and intents of slots older than this are forgotten, so memory stays bounded.
HISTORY_S = 2 * 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """An order an agent wants on the ledger; the node signs and gossips it.

    `id` is unique per agent and deterministic (`<agent>:<slot>:<n>`); using it as the
    order id lets the agent read its fills straight from the clearing result.
    """

    id: str
    slot: int
    side: Side
    energy_wh: int
    price: int

    def to_order(self, author: str) -> Order:
        """The `Order` of this intent, signed by `author`."""
        return Order(
            id=self.id,
            author=author,
            slot=self.slot,
            side=self.side,
            energy_wh=self.energy_wh,
            price=self.price,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDecision:
    """What the node must do after one call: cancel these intent ids, then place these.

    `dropped` counts the inputs of this call that were invalid and ignored.
    """

    place: tuple[OrderIntent, ...] = ()
    cancel: tuple[str, ...] = ()
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Target:
    """What an agent wants on the book for one slot."""

    energy_wh: int
    price: int


class IntentBook:
    """An agent's own orders per slot, their fills, and the diff to a new set of targets.

    At most one intent per slot is live. While a slot's gate is open the live intent is
    replaced (cancel + new) when its price differs from the target, when the target
    asks for less energy, or for more by over `resize_wh`; after the gate it is frozen
    and waits for the slot's result.
    """

    def __init__(
        self, agent_id: str, side: Side, terms: CommunityTerms, *, min_order_wh: int
    ) -> None:
        self.agent_id = agent_id
        self.side = side
        self.terms = terms
        self.min_order_wh = min_order_wh
        self._seq = 0
        self._placed: dict[int, dict[str, OrderIntent]] = {}
        self._live: dict[int, OrderIntent] = {}
        self._results: dict[int, int] = {}

    def live(self, slot: int) -> OrderIntent | None:
        """The live intent of `slot` (frozen once its gate has closed), if any."""
        return self._live.get(slot)

    def live_intents(self) -> tuple[OrderIntent, ...]:
        """Every live intent, by slot."""
        return tuple(self._live[slot] for slot in sorted(self._live))

    def filled_wh(self, slot: int) -> int | None:
        """Energy the slot's result filled for this agent, or None before the result."""
        return self._results.get(slot)

    def committed_wh(self, slot: int) -> int:
        """Energy traded in `slot` if known, else the live intent's energy (0 if none)."""
        filled = self._results.get(slot)
        if filled is not None:
            return filled
        intent = self._live.get(slot)
        return 0 if intent is None else intent.energy_wh

    def apply_results(self, results: Iterable[SlotResult], now: int) -> int:
        """Record fills of this agent's intents; returns how many inputs were dropped.

        Dropped: a result for a slot whose gate is still open, a fill above its intent's
        energy, a fill of an id this agent never placed in that slot, a second result
        for a slot that disagrees with the first unless it is `late` (the community's
        result after a dispute, which replaces it). Results of other agents' slots are
        simply not ours.
        """
        dropped = 0
        prefix = f"{self.agent_id}:"
        for result in results:
            placed = self._placed.get(result.slot)
            if placed is None:
                continue
            if self.terms.is_open(result.slot, now):
                dropped += 1
                continue
            filled = 0
            for order_id, energy in sorted(result.fills.items()):
                intent = placed.get(order_id)
                if intent is None:
                    dropped += order_id.startswith(prefix)
                elif energy > intent.energy_wh:
                    dropped += 1
                else:
                    filled += energy
            if result.late:
                self._results[result.slot] = filled
                continue
            previous = self._results.setdefault(result.slot, filled)
            dropped += previous != filled
        return dropped

    def reconcile(
        self, now: int, targets: Mapping[int, Target], *, resize_wh: int
    ) -> AgentDecision:
        """Cancel and place intents so that the open slots match `targets`.

        Targets below `min_order_wh`, or for slots whose gate is closed, are ignored.
        """
        place: list[OrderIntent] = []
        cancel: list[str] = []
        for slot in sorted(set(self._live) | set(targets)):
            if not self.terms.is_open(slot, now):
                continue
            live = self._live.get(slot)
            target = targets.get(slot)
            if target is not None and target.energy_wh < self.min_order_wh:
                target = None
            if live is not None and target is not None and _keeps(live, target, resize_wh):
                continue
            if live is not None:
                cancel.append(live.id)
                del self._live[slot]
            if target is not None:
                place.append(self._new_intent(slot, target))
        return AgentDecision(place=tuple(place), cancel=tuple(cancel))

    def prune(self, now: int) -> None:
        """Forget slots that ended more than `HISTORY_S` ago."""
        horizon = now - HISTORY_S
        for slot in [slot for slot in self._placed if slot < horizon]:
            self._placed.pop(slot)
            self._live.pop(slot, None)
            self._results.pop(slot, None)

    def _new_intent(self, slot: int, target: Target) -> OrderIntent:
        self._seq += 1
        intent = OrderIntent(
            id=f"{self.agent_id}:{slot}:{self._seq}",
            slot=slot,
            side=self.side,
            energy_wh=target.energy_wh,
            price=target.price,
        )
        self._placed.setdefault(slot, {})[intent.id] = intent
        self._live[slot] = intent
        return intent


def _keeps(live: OrderIntent, target: Target, resize_wh: int) -> bool:
    return (
        live.price == target.price
        and live.energy_wh <= target.energy_wh <= live.energy_wh + resize_wh
    )
