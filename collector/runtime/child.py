"""Entry point of every child process: `python -m collector.runtime.child '<spec json>'`."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from collector.runtime import logs
from collector.runtime.spec import ChildSpec, decode
from collector.runtime.status import StatusChannel


def set_title(title: str) -> None:
    try:
        import setproctitle

        setproctitle.setproctitle(f"collector: {title}")
    except ImportError:  # optional nicety
        pass


def die_with_parent(parent_pid: int) -> None:
    """Make the kernel SIGKILL this process the moment its parent dies (even by SIGKILL): the
    supervisor, or the fork server (collector/runtime/forkserver.py), which dies with the supervisor.

    SIGKILL, not SIGTERM: a SIGTERM starts a graceful drain bounded by --shutdown-timeout, and an
    orphaned receiver kept serving its port beside the next collector for that long. Nothing is lost
    by dying at once: accepted records are in the rings, which the next start adopts, and a request
    not yet answered is retried by its client. The attribute is set here, in the child after exec or fork;
    a supervisor that died before that is caught by comparing the parent pid.
    """
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: children outlive a killed supervisor
        return
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)  # the parent is already gone: we were re-parented before the prctl


# Seconds after start-up when a child settles its memory (`settle_memory`): by then it has loaded its
# configuration, built its components and started serving. Then, every TRIM_HEAP_INTERVAL, the heap
# that a burst left free goes back to the kernel (`trim_heap`).
SETTLE_AFTER = 5.0
TRIM_HEAP_INTERVAL = 20.0
_M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


def libc_handle() -> Any:
    import ctypes

    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def limit_malloc_arenas(libc: Any) -> None:
    """At most two glibc malloc arenas (unless MALLOC_ARENA_MAX says otherwise): by default every
    thread that allocates (grpc's, the resolver's, `asyncio.to_thread`'s) may get an arena of its
    own, up to 8 per core, and each keeps the memory a burst freed in it."""
    import os

    if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
        try:
            libc.mallopt(_M_ARENA_MAX, 2)
        except AttributeError:  # not glibc
            pass


def trim_heap(libc: Any) -> None:
    """Give free heap pages back to the kernel. glibc keeps what a burst freed (its mmap threshold
    grows with the largest buffer freed, so later large buffers come from the heap too); one
    `malloc_trim` releases the free pages in every arena, in a few milliseconds."""
    if libc is not None:
        try:
            libc.malloc_trim(0)
        except AttributeError:  # not glibc
            pass


def settle_memory(libc: Any) -> None:
    """Once started: collect the garbage of imports and configuration loading, move what survives
    (modules, components: it lives as long as the process) into the collector's permanent
    generation so later full collections do not walk it again (`gc.freeze`), and give the freed
    heap back to the kernel (about 1 MiB per process after start-up); then trim the heap now and
    then, so a process is back near its idle size soon after a burst."""
    import gc

    gc.collect()
    gc.freeze()
    trim_heap(libc)
    asyncio.get_running_loop().call_later(TRIM_HEAP_INTERVAL, _trim_heap_periodically, libc)


def _trim_heap_periodically(libc: Any) -> None:
    trim_heap(libc)
    asyncio.get_running_loop().call_later(TRIM_HEAP_INTERVAL, _trim_heap_periodically, libc)


def new_event_loop() -> asyncio.AbstractEventLoop:
    import uvloop

    return uvloop.new_event_loop()


async def _main(spec: ChildSpec) -> None:
    from collector.pipeline.loader import load

    status = StatusChannel(spec.status_fd)
    pipeline = load(spec.config_path, http_listen_addr=spec.http_listen_addr, storage_path=Path(spec.storage_path))
    if spec.role == "worker":
        from collector.runtime.worker import run_worker

        await run_worker(spec, pipeline, status)
    else:
        from collector.runtime.receiver import run_receiver

        await run_receiver(spec, pipeline, status)


def main(argv: list[str], parent_pid: int | None = None) -> int:
    """`parent_pid`: the fork server's, when it forked this child; else the supervisor started it."""
    spec = decode(argv[1])
    die_with_parent(parent_pid or spec.supervisor_pid)
    set_title(spec.title)
    logs.configure(spec.title, spec_log_level(), spec_log_format())
    logs.keep_recent(Path(spec.run_dir), spec.title)
    libc = libc_handle()
    limit_malloc_arenas(libc)
    loop = new_event_loop()
    loop.call_later(SETTLE_AFTER, settle_memory, libc)
    try:
        loop.run_until_complete(_main(spec))
    except Exception:
        logging.getLogger(__name__).exception("%s failed", spec.title)
        return 1
    finally:
        loop.close()
    return 0


def spec_log_level() -> str:
    import os

    return os.environ.get("COLLECTOR_LOG_LEVEL", "info")


def spec_log_format() -> str:
    import os

    return os.environ.get("COLLECTOR_LOG_FORMAT", "logfmt")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
