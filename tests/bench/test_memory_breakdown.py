"""bench.procstat's memory breakdown: every byte of PSS lands in exactly one part, ring pages are
recognised by their /dev/shm name, and thread stacks by their guard page."""

from __future__ import annotations

import mmap
import os
import threading

from bench.procstat import BREAKDOWN_PARTS, memory_breakdown
from collector.runtime.ring import RecordHeader, Ring


def test_parts_add_up_to_the_pss_and_rings_are_counted_as_rings() -> None:
    ring = Ring.create(8 << 20, name=f"collector-ring-test-{os.getpid()}")
    try:
        before = memory_breakdown(os.getpid())
        for _ in range(700):  # ~7 MiB of records: the pages are written, so they are resident
            assert ring.try_put(RecordHeader(1, 1, 0), b"r" * 10_000)
        after = memory_breakdown(os.getpid())
    finally:
        ring.close()
        ring.unlink()
    for sample in (before, after):
        assert sample.pss == sum(getattr(sample, part) for part in BREAKDOWN_PARTS)
        assert sample.code > 0 and sample.modules > 0
    assert after.rings - before.rings >= 6 << 20


def test_startup_anonymous_memory_separates_modules_from_heap() -> None:
    startup = memory_breakdown(os.getpid()).anon
    # a fresh anonymous mapping: a bytearray could reuse heap pages the suite already freed (resident)
    grown = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for offset in range(0, len(grown), mmap.PAGESIZE):  # touch every page
        grown[offset] = 1
    sample = memory_breakdown(os.getpid(), startup_anon=startup)
    assert sample.modules == min(startup, sample.anon)
    assert sample.heap >= 15 << 20
    grown.close()


def test_thread_stacks_and_threads_are_counted() -> None:
    started, stop = threading.Event(), threading.Event()

    def run() -> None:
        started.set()
        stop.wait()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        started.wait()
        sample = memory_breakdown(os.getpid())
        assert sample.threads >= 2
        assert sample.stacks > 0
    finally:
        stop.set()
        thread.join()


def test_a_gone_process_is_all_zeros() -> None:
    sample = memory_breakdown(2**22 + 12345)
    assert sample.pss == 0 and sample.threads == 0
