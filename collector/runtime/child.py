"""Entry point of every child process: `python -m collector.runtime.child '<spec json>'`."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from collector.runtime import logs
from collector.runtime.spec import ChildSpec, decode
from collector.runtime.status import StatusChannel


def _set_title(title: str) -> None:
    try:
        import setproctitle

        setproctitle.setproctitle(f"collector: {title}")
    except ImportError:  # optional nicety
        pass


def _die_with_parent(supervisor_pid: int) -> None:
    """Make the kernel SIGKILL this process the moment the supervisor dies (even by SIGKILL).

    SIGKILL, not SIGTERM: a SIGTERM starts a graceful drain bounded by --shutdown-timeout, and an
    orphaned receiver kept serving its port beside the next collector for that long. Nothing is lost
    by dying at once: accepted records are in the rings, which the next start adopts, and a request
    not yet answered is retried by its client. The attribute is set here, in the child after exec;
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
    if supervisor_pid and os.getppid() != supervisor_pid:
        os._exit(1)  # the supervisor is already gone: we were re-parented before the prctl


# Seconds after start-up when a child settles its memory (`settle_memory`): by then it has loaded its
# configuration, built its components and started serving.
SETTLE_AFTER = 5.0


def settle_memory() -> None:
    """Once started: collect the garbage of imports and configuration loading, move what survives
    (modules, components: it lives as long as the process) into the collector's permanent
    generation so later full collections do not walk it again (`gc.freeze`), and give the freed
    heap back to the kernel (glibc's `malloc_trim`; about 1 MiB per process after start-up)."""
    import ctypes
    import gc

    gc.collect()
    gc.freeze()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


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


def main(argv: list[str]) -> int:
    spec = decode(argv[1])
    _die_with_parent(spec.supervisor_pid)
    _set_title(spec.title)
    logs.configure(spec.title, spec_log_level(), spec_log_format())
    logs.keep_recent(Path(spec.run_dir), spec.title)
    loop = new_event_loop()
    loop.call_later(SETTLE_AFTER, settle_memory)
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
