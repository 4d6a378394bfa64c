"""Supervisor -> child commands: one JSON object per line on the child's standard input.

`{"cmd": "reload", "config_path": ..., "generation": N}` asks the child to load that configuration
snapshot and apply it; the child answers on its status channel with
`{"event": "reloaded", "generation": N, "ok": bool, "error": ...}`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

from collector.runtime.status import StatusReader

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def listen(fd: int, handler: Handler) -> Callable[[], None]:
    """Read commands from `fd` on the running loop and run them one at a time; returns `stop`."""
    loop = asyncio.get_running_loop()
    reader = StatusReader()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    os.set_blocking(fd, False)

    def on_readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(fd)
            return
        for command in reader.feed(data):
            queue.put_nowait(command)

    async def run() -> None:
        while True:
            command = await queue.get()
            try:
                await handler(command)
            except Exception:
                log.exception("control command %s failed", command.get("cmd"))

    loop.add_reader(fd, on_readable)
    task = loop.create_task(run())

    def stop() -> None:
        loop.remove_reader(fd)
        task.cancel()

    return stop


class CommandPipe:
    """The supervisor's end of a child's command pipe (the child's standard input): an inline part's,
    or a forked child's (collector/runtime/forkclient.py)."""

    def __init__(self, fd: int, title: str) -> None:
        self.fd, self.title = fd, title
        os.set_blocking(fd, False)  # the reader may be this very loop (inline): a blocking write could never finish

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write(self, data: bytes) -> None:
        if self.fd < 0:
            return
        try:
            os.write(self.fd, data)  # a command is a few hundred bytes, the pipe holds 64 KiB
        except BlockingIOError:
            log.error("%s: command pipe full, command dropped (the child does not read its commands)", self.title)
        except BrokenPipeError:
            pass  # the child has just exited: the supervisor's watcher restarts it, with a fresh pipe
