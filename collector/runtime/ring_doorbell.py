"""Doorbell: how a producer wakes a consumer that sleeps on its ring without busy polling.

An eventfd is a 64-bit counter in the kernel: `ring()` adds one, `drain()` reads and zeroes it,
and the fd is readable while the counter is non-zero, so a consumer can sleep in its event loop
(`loop.add_reader(doorbell.fd, ...)`) or in `select`. Both ends use the same open file description
(the supervisor creates it and passes the fd to both children with `subprocess.Popen(pass_fds=...)`,
or passes the Doorbell itself to a multiprocessing child, which pickles it as an inherited fd),
which is non-blocking: `ring()` never blocks the producer; when the counter is saturated the
consumer is due to wake up anyway, so the overflow is ignored.

Protocol that loses no wake-up: the consumer calls `drain()` first, then reads its ring until it is
empty, then sleeps on the fd. The producer calls `ring()` after `try_put` has published the write
position. Any put whose ring happened before the drain is visible to the reads that follow (the
eventfd's kernel lock orders the producer's earlier stores before the consumer's later loads, also
on weakly ordered CPUs); any later put leaves the counter non-zero, so the sleep returns at once.
Producers may ring once per batch of puts instead of once per record.

A consumer may also stop listening for a while (the worker's linger, `collector.runtime.worker`):
rings meanwhile only raise the counter (an fd just removed from an event loop may still wake its
loop once, which then drops it). That keeps the protocol as long as the
consumer, when it listens again, drains and then reads its rings before it next sleeps, and the
pause is bounded by a timer of its own, so no record waits longer than that bound for a reader.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


class Doorbell:
    __slots__ = ("fd", "_closed")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._closed = False

    @classmethod
    def create(cls) -> Doorbell:
        """A new eventfd (close-on-exec: hand it to a child explicitly with `pass_fds`)."""
        if not hasattr(os, "eventfd"):
            raise OSError("Doorbell needs os.eventfd (Linux)")
        return cls(os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC))

    @classmethod
    def from_fd(cls, fd: int) -> Doorbell:
        """Adopt an inherited eventfd; it is made non-blocking so `ring()` can never wait."""
        os.set_blocking(fd, False)
        return cls(fd)

    def __reduce__(self) -> tuple[object, tuple[object]]:
        """Pass to a multiprocessing child (spawn or forkserver) as an inherited descriptor."""
        from multiprocessing import reduction

        return (_rebuild, (reduction.DupFd(self.fd),))

    def ring(self) -> None:
        try:
            os.eventfd_write(self.fd, 1)
        except BlockingIOError:
            pass  # counter saturated: the consumer has plenty of reasons to wake already

    def drain(self) -> int:
        """Reset the counter; returns how many rings were pending (0 if none)."""
        try:
            return os.eventfd_read(self.fd)
        except BlockingIOError:
            return 0

    async def wait(self) -> int:
        """Sleep in the running event loop until rung; returns the drained count."""
        count = self.drain()
        if count:
            return count
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not woken.done():
                woken.set_result(None)

        loop.add_reader(self.fd, on_readable)
        try:
            await woken
        finally:
            loop.remove_reader(self.fd)
        return self.drain()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.fd)

    def __enter__(self) -> Doorbell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rebuild(handle: Any) -> Doorbell:
    return Doorbell.from_fd(handle.detach())
