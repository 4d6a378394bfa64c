"""Hand work from a foreign thread to an event loop, one wake-up per burst rather than per item.

Why. The gRPC serving thread (grpc_core) runs calls outside the event loop, but some of their steps
must run on the loop: an authenticator is a coroutine, a large message is decoded in the decode
threads through the loop, and an admission that is not thread-safe may only be entered from the
loop (grpc_otlp_core says which calls come here). Waking the loop costs a write to its self-pipe
and a read back, so under load that cost is shared: items queue in a deque and the loop is only
woken when no wake-up is already pending. Correct with any
interleaving: the loop clears the pending flag before it empties the deque, so an item added after
the flag was cleared schedules its own wake-up, and one added before is emptied by this one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Callable

__all__ = ["LoopBridge"]

log = logging.getLogger(__name__)


class LoopBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._pending = False

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the loop soon; callable from any thread."""
        self._items.append((fn, args))
        if not self._pending:
            self._pending = True
            self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._pending = False
        items = self._items
        while items:
            fn, args = items.popleft()
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - one failing item must not strand the ones behind it
                log.exception("work handed to the event loop failed")
