"""Push functions shared by the exporterhelper tests."""

from __future__ import annotations

import asyncio

from collector.signals import Payload


class GatedPush:
    """A push that holds every payload until the test sets `gate`, then records its item count:
    the backend stalls for as long as the test needs the queue to fill."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.delivered: list[int] = []

    async def __call__(self, payload: Payload) -> None:
        await self.gate.wait()
        self.delivered.append(payload.item_count)
