"""The start-up warning when the rings could outgrow /dev/shm (collector/runtime/shm.py)."""

from __future__ import annotations

import os
from pathlib import Path

from collector.runtime.shm import MIB, shortage_warning


def test_rings_larger_than_the_filesystem_are_named_with_the_ways_out(tmp_path: Path) -> None:
    stats = os.statvfs(tmp_path)
    size = stats.f_blocks * stats.f_frsize
    warning = shortage_warning([size, 64 * MIB], shm_dir=str(tmp_path))
    assert warning is not None
    assert f"{(size + 64 * MIB) // MIB} MiB" in warning and f"{size // MIB} MiB" in warning
    assert "COLLECTOR_RING_BYTES" in warning and "--shm-size" in warning


def test_rings_that_fit_say_nothing(tmp_path: Path) -> None:
    assert shortage_warning([MIB, MIB], shm_dir=str(tmp_path)) is None


def test_no_filesystem_says_nothing(tmp_path: Path) -> None:
    assert shortage_warning([MIB], shm_dir=str(tmp_path / "missing")) is None
