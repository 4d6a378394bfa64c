"""CPU and memory of a whole process tree, read from /proc (what a peer's benchmark would read)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found: list[int] = []
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


# --- where the memory goes --------------------------------------------------------------------------
RING_PREFIX = "/dev/shm/collector-ring-"
BREAKDOWN_PARTS = ("code", "modules", "heap", "rings", "files", "stacks")


@dataclass
class MemoryBreakdown:
    """One process's PSS by what it holds, from /proc/<pid>/smaps (bytes).

    code: file-backed mappings of the interpreter and of shared libraries (CPython, extension
    modules such as grpc's cygrpc, upb, libcrypto): what importing a library costs in text and data.
    modules: anonymous memory the process held when it became ready (`startup_anon`, given by the
    caller): the interpreter's own heap plus every imported module's objects. heap: anonymous memory
    above that (buffers, batches, queues, caches that grew with use). rings: the /dev/shm ring pages
    this process maps (shared with the other end of each ring, so PSS halves them). files: other
    mapped files that are data (prometheus_client's multiprocess files, /dev/shm segments that are
    not rings). stacks: thread stacks (`[stack]` and the anonymous mappings glibc makes for threads,
    recognised by their guard page)."""

    pid: int
    pss: int = 0
    code: int = 0
    anon: int = 0
    modules: int = 0
    heap: int = 0
    rings: int = 0
    files: int = 0
    stacks: int = 0
    threads: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"pss": self.pss, **{part: getattr(self, part) for part in BREAKDOWN_PARTS}, "threads": self.threads}


_CODE_SUFFIXES = (".so", ".py", ".pyc")
_GUARD_MAX = 64 << 10


def _is_code(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return ".so" in name or name.startswith("python") or path.endswith(_CODE_SUFFIXES) or "/lib" in path and "." not in name


def memory_breakdown(pid: int, startup_anon: int | None = None) -> MemoryBreakdown:
    """Split the PSS of `pid` by mapping (see `MemoryBreakdown`); zeros if the process is gone."""
    result = MemoryBreakdown(pid)
    try:
        with open(f"/proc/{pid}/smaps") as handle:
            lines = handle.read().splitlines()
        result.threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return result
    path, guarded, kind = "", False, ""
    for line in lines:
        head = line.split(None, 1)[0]
        if "-" in head and not head.endswith(":"):  # a mapping header: range perms offset dev inode [path]
            fields = line.split(None, 5)
            new_path = fields[5].strip() if len(fields) > 5 else ""
            start, end = (int(x, 16) for x in fields[0].split("-"))
            # a thread's guard page (small, no access): the anonymous mapping right above it is its stack
            # (an arena's unused tail is also "---p", but megabytes long)
            guarded = fields[1] == "---p" and not new_path and end - start <= _GUARD_MAX
            previous_guard, path = kind == "guard", new_path
            if not path:
                kind = "guard" if guarded else ("stacks" if previous_guard else "anon")
            elif path.startswith(RING_PREFIX):
                kind = "rings"
            elif path == "[stack]":
                kind = "stacks"
            elif path.startswith("["):
                kind = "anon"  # [heap], [anon:...], [vvar], [vdso]
            elif _is_code(path):
                kind = "code"
            else:
                kind = "files"
            continue
        if head == "Pss:":
            value = int(line.split()[1]) * 1024
            result.pss += value
            if kind == "anon":
                result.anon += value
            elif kind != "guard":
                setattr(result, kind, getattr(result, kind) + value)
    base = result.anon if startup_anon is None else min(startup_anon, result.anon)
    result.modules, result.heap = base, result.anon - base
    return result


def process_titles(root: int) -> dict[int, str]:
    """pid -> process title (`collector: worker traces/0`) for the tree under `root`."""
    titles = {}
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                titles[pid] = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            pass
    return titles
