"""Where long decodes run: a small thread pool shared by the OTLP servers of a process.

Decompressing and decoding a large body takes tens of milliseconds; on the event loop that would
stall every other request. In a thread, the loop keeps serving, but every running decode thread
takes its turn at the GIL, and a decompressed body is held while it waits. So the pool is small:
at most `DECODE_THREADS` decodes run at once, later ones queue (holding only their compressed
body), and the loop competes with at most that many threads whatever a client sends.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Final, TypeVar

__all__ = ["DECODE_THREADS", "decode_pool", "in_decode_thread"]

T = TypeVar("T")
DECODE_THREADS: Final = 2
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:  # created on first use: workers never decode, and a fork must not inherit threads
        _POOL = ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="otlp-decode")
    return _POOL


def decode_pool() -> ThreadPoolExecutor:
    """The pool itself, for callers that chain a callback on `loop.run_in_executor` instead of awaiting."""
    return _pool()


async def in_decode_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool(), partial(fn, *args))
