"""Is /dev/shm large enough for the rings? Checked once at start, as a warning.

A ring is a sparse file in the shared-memory filesystem: pages are allocated when the producer first
writes them (and given back by `Ring.trim`), so creating rings larger than the filesystem succeeds.
The shortage shows only when the rings fill during an outage, as SIGBUS in the process writing a
page the filesystem cannot supply (a receiver dies, its clients see resets). Docker's default
/dev/shm of 64 MiB is smaller than one default ring. Saying so at start, with the two ways out,
turns that crash into a line an operator reads before the outage.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

SHM_DIR = "/dev/shm"
MIB = 1 << 20


def shortage_warning(capacities: Iterable[int], shm_dir: str = SHM_DIR) -> str | None:
    """The warning to log when the rings' combined capacity exceeds the filesystem's size, else None."""
    needed = sum(capacities)
    try:
        stats = os.statvfs(shm_dir)
    except OSError:
        return None  # not Linux, or no /dev/shm: the rings' creation reports that itself
    size = stats.f_blocks * stats.f_frsize
    if needed <= size:
        return None
    return (f"the rings may hold up to {needed // MIB} MiB in {shm_dir}, which is {size // MIB} MiB: a ring that "
            f"fills during a backend outage then kills its receiver (SIGBUS). Enlarge {shm_dir} (docker: --shm-size) "
            f"or lower COLLECTOR_RING_BYTES")
