"""Stopping a component's background task on shutdown."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (None: nothing to stop) and return once it has ended, so that shutdown never
    leaves it running against closed resources; what it raised while ending is not the caller's
    failure and is dropped. A cancellation of the caller itself still propagates."""
    if task is None:
        return
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
