"""Memory sampling and the memory limiter's decision rule (sans-IO: usage in, decision out)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def read_rss_bytes(statm: Path = Path("/proc/self/statm")) -> int:
    """Resident set size of this process: field 2 of /proc/self/statm (pages), psutil elsewhere."""
    try:
        return int(statm.read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        import psutil

        return int(psutil.Process().memory_info().rss)


def total_memory_bytes(cgroup_files: tuple[Path, ...] = _CGROUP_LIMITS) -> int:
    """What `*_percentage` limits are relative to: the cgroup limit if set, else physical memory."""
    import psutil

    physical = int(psutil.virtual_memory().total)
    for path in cgroup_files:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < physical:
            return int(text)
    return physical


@dataclass(frozen=True, slots=True)
class MemoryLimits:
    hard: int
    soft: int


@dataclass(frozen=True, slots=True)
class Decision:
    usage: int
    force_gc: bool
    changed: bool  # refusing switched on or off with this sample


class MemoryState:
    """Refuse above the soft limit, force GC above the hard limit, resume below the soft limit."""

    __slots__ = ("limits", "refusing", "last_usage")

    def __init__(self, limits: MemoryLimits) -> None:
        self.limits = limits
        self.refusing = False
        self.last_usage = 0

    def observe(self, usage: int) -> Decision:
        self.last_usage = usage
        refusing = usage >= self.limits.soft
        changed = refusing != self.refusing
        self.refusing = refusing
        return Decision(usage=usage, force_gc=usage >= self.limits.hard, changed=changed)
