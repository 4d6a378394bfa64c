"""Small-host mode (`COLLECTOR_WORKERS_MODE=inline`): the receiver and the workers run as tasks of the
supervisor's event loop instead of child processes.

Why: each interpreter costs tens of MiB before it does any work, and a host sending a few thousand
items per second needs one core, not five processes. Everything else stays as in the multiprocess
mode, so the two modes cannot drift apart:

- The same code runs each part (`run_receiver`, `Worker`), against the same shared-memory rings and
  eventfd doorbells the supervisor created; a success answer still means the bytes are in a ring,
  and a ring record is released only once its payloads are settled (`collector/runtime/acks.py`).
  A crash of the process leaves the rings in shared memory for the next start to adopt, as a
  crashed worker leaves them for its successor.
- The supervisor drives each part through `InlineProcess`, which has the face of a child process
  (pid, returncode, stdin, wait, send_signal, kill): its status events travel over a pipe as a
  child's do, reload commands go down a pipe read by the same `control.listen`, SIGTERM sets the
  part's stop event, and a part that fails is restarted by the same watch loop.

What differs: the parts share one core and one garbage collector, the signals belong to the
supervisor (the parts never install handlers), and their self-metrics are the process's own
(in memory, one slot per part, merged as the multiprocess files would be: `selfmetrics/parts.py`)
instead of prometheus_client's multiprocess files (`selfmetrics/exposition.py` adds them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal as signals
from pathlib import Path

import msgspec

from collector.runtime.control import CommandPipe
from collector.runtime.spec import ChildSpec
from collector.runtime.status import StatusChannel
from collector.selfmetrics.parts import PART, use_part_values

log = logging.getLogger(__name__)


class InlineProcess:
    """One pipeline part (receiver or worker) running in this process."""

    def __init__(self, spec: ChildSpec) -> None:
        """`spec.status_fd` is the write end of the status pipe; this part owns and closes it."""
        use_part_values()
        control_read, control_write = os.pipe()
        self.pid = os.getpid()
        self.returncode: int | None = None
        self.stdin = CommandPipe(control_write, spec.title)
        self._fds = (control_read, control_write, spec.status_fd)
        self._stopping = asyncio.Event()
        self._spec = msgspec.structs.replace(spec, control_fd=control_read)
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        spec = self._spec
        PART.set(spec.title)  # this task's context: every task and callback the part starts inherits it
        try:
            status = StatusChannel(spec.status_fd)
            from collector.pipeline.loader import load

            pipeline = load(spec.config_path, http_listen_addr=spec.http_listen_addr, storage_path=Path(spec.storage_path))
            if spec.role == "worker":
                from collector.runtime.worker import run_worker

                await run_worker(spec, pipeline, status, self._stopping)
            else:
                from collector.runtime.receiver import run_receiver

                await run_receiver(spec, pipeline, status, self._stopping)
            self.returncode = 0
        except asyncio.CancelledError:
            self.returncode = -signals.SIGKILL
        except Exception:
            log.exception("%s failed", spec.title)
            self.returncode = 1
        finally:
            for fd in self._fds:
                os.close(fd)  # the status pipe's EOF tells the supervisor, as a child's exit does

    async def wait(self) -> int:
        await asyncio.shield(self._task)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """SIGTERM/SIGINT: stop as a child does (drain, flush, shut down); anything else: kill."""
        if sig in (signals.SIGTERM, signals.SIGINT):
            self._stopping.set()
        else:
            self.kill()

    def kill(self) -> None:
        self._task.cancel()
