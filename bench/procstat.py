"""CPU and memory of a whole process tree, read from /proc (what a peer's benchmark would read)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
    except OSError:
        pass
    return found


def cpu_model() -> str:
    """The CPU's model name, recorded with every benchmark result."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue.extend(_children(current))
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of its reaped children."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / _CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return 0


def pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class TreeSample:
    cpu_s: float
    rss: int
    pss: int


def sample_tree(root: int) -> TreeSample:
    pids = tree(root)
    return TreeSample(sum(cpu_seconds(p) for p in pids), sum(rss_bytes(p) for p in pids), sum(pss_bytes(p) for p in pids))


class TreeMonitor:
    """Samples a process tree in a thread; keeps peak RSS/PSS and CPU at start/stop marks."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self.root = root
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self._cpu_by_pid: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def cpu_total(self) -> float:
        """CPU of every process ever seen in the tree (a dead child keeps its last reading)."""
        for pid in tree(self.root):
            value = cpu_seconds(pid)
            if value:
                self._cpu_by_pid[pid] = value
        return sum(self._cpu_by_pid.values())

    def reset_peaks(self) -> None:
        self.peak_rss = self.peak_pss = 0
        self._sample_memory()

    def _sample_memory(self) -> None:
        pids = tree(self.root)
        self.peak_rss = max(self.peak_rss, sum(rss_bytes(p) for p in pids))
        self.peak_pss = max(self.peak_pss, sum(pss_bytes(p) for p in pids))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_memory()
            self.cpu_total()

    def start(self) -> TreeMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
