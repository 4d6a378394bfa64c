"""The Processes page's PSS split reads a live process's smaps_rollup: the parts are real and add up."""

from __future__ import annotations

import mmap
import os

from collector.web.procmem import pss_split


def test_split_of_this_process_sees_its_shared_memory() -> None:
    before = pss_split(os.getpid())
    assert before is not None
    assert before["pssBytes"] > 0 and before["fileBytes"] > 0 and before["anonBytes"] > 0
    assert before["anonBytes"] + before["fileBytes"] + before["shmemBytes"] <= before["pssBytes"] + 4096
    region = mmap.mmap(-1, 8 << 20, flags=mmap.MAP_SHARED)  # anonymous shared memory is shmem
    try:
        region[:] = b"\1" * len(region)
        after = pss_split(os.getpid())
        assert after is not None
        assert after["shmemBytes"] >= before["shmemBytes"] + (8 << 20) - (64 << 10)
    finally:
        region.close()


def test_a_gone_process_has_no_split() -> None:
    assert pss_split(2**22 + 12345) is None
