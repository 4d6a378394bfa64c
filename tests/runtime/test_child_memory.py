"""A child's memory hygiene: start-up objects leave the garbage collector's generations and the
free heap goes back to the kernel, then again on a timer."""

from __future__ import annotations

import asyncio
import gc

from collector.runtime import child


def test_settle_memory_freezes_start_up_objects_and_keeps_trimming() -> None:
    calls: list[int] = []

    class FakeLibc:  # records what would reach glibc
        def malloc_trim(self, pad: int) -> int:
            calls.append(pad)
            return 1

    async def scenario() -> None:
        child.settle_memory(FakeLibc())
        assert gc.get_freeze_count() > 0
        assert calls == [0]
        loop = asyncio.get_running_loop()
        original, child.TRIM_HEAP_INTERVAL = child.TRIM_HEAP_INTERVAL, 0.01
        try:
            loop.call_later(0, child._trim_heap_periodically, FakeLibc())
            for _ in range(1000):  # the timer re-arms itself: a few more trims arrive
                if len(calls) >= 3:
                    break
                await asyncio.sleep(0.01)
            assert len(calls) >= 3
        finally:
            child.TRIM_HEAP_INTERVAL = original

    try:
        asyncio.run(scenario())
    finally:
        gc.unfreeze()


def test_the_real_libc_trims_without_error() -> None:
    libc = child.libc_handle()
    assert libc is not None  # glibc on every Linux we run on
    child.trim_heap(libc)
