"""Fake serial lines for the TIC reader's tests: the boundary faked is the UART."""

from __future__ import annotations

import asyncio


class UartAtSpeed:
    """A UART opened at `baud`: the meter's frame at the meter's own speed, garbage at
    any other (what a wrong speed delivers)."""

    def __init__(self, frame: bytes, baud: int, meter_baud: int) -> None:
        self.frame = frame
        self.baud = baud
        self.meter_baud = meter_baud

    async def read(self) -> bytes:
        await asyncio.sleep(0.01)
        return self.frame if self.baud == self.meter_baud else bytes(range(5, 200))

    async def close(self) -> None:
        return None
