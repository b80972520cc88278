"""The part of the node's API that settles the household's slots and reads them back
(a mixin of Node; docs/settlement.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..settlement.records import OwnSlot, SettledSlot
from ..settlement.store import SettlementStore
from ..tariff import GridPrices, Tariff
from .events import NodeEvent, SlotSettled

if TYPE_CHECKING:
    from ..ledger.identity import Identity
    from ..terms import CommunityTerms
    from .metering import ReadingRecorder
    from .settling import SettlementKeeper


Settled = tuple[list[SettledSlot], dict[int, OwnSlot]]
"""Settled slots, and the household's own prices by slot."""


class SettlementControls:
    """Settlement for the host: the household's tariff in, settled slots out."""

    identity: Identity
    terms: CommunityTerms
    _readings: ReadingRecorder
    _settlement: SettlementKeeper
    _tariff: Tariff | None = None

    def _emit(self, event: NodeEvent) -> None:
        raise NotImplementedError

    def set_tariff(self, tariff: Tariff | None) -> None:
        """The household's grid contract, which prices its residual in its statements
        (None: the community's reference prices, its ceiling and floor). Private: it is
        never signed or gossiped."""
        self._tariff = tariff

    def _own_slot(self, slot: int) -> OwnSlot:
        period, pv_wh = self._readings.slot_inputs(slot)
        if self._tariff is None:
            prices = GridPrices(self.terms.ceiling, self.terms.floor)
        else:
            prices = self._tariff.prices(slot, period)
        return OwnSlot(slot, prices, pv_wh)

    def _on_settled(self, settled: SettledSlot) -> None:
        own = self._own_slot(settled.slot).settle(settled, self.identity.public_key.hex())
        self._emit(SlotSettled(settled.slot, settled.state.value, own, len(settled.rows)))

    async def settled_slots(self, start: int, end: int) -> Settled:
        """The settled slots with start <= slot < end and the household's own prices in
        them, read from the node's store (off the event loop)."""
        return await self._settlement.read(_read, start, end)


def _read(store: SettlementStore, start: int, end: int) -> Settled:
    return store.slots(start, end), store.own(start, end)
