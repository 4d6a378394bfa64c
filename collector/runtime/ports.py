"""Listening ports are shared only between the receiver processes of one collector.

Receiver processes bind with `SO_REUSEPORT` so that several of them (and, during a reload, a
replacement and the listener it replaces) serve one port. The kernel lets any socket of the same
user join such a group, so on its own it would let a second collector, or a receiver orphaned by a
killed supervisor, silently take a share of the connections. Before starting any receiver the
supervisor therefore, for every port its receivers listen on:

1. takes a host-wide lock, `<tmp>/collector-port-<port>.lock` (`fcntl.flock`, held for its life,
   close-on-exec: children inherit nothing), which a second collector cannot take: it exits 1
   naming the port and the collector that holds it. This also closes the race of two collectors
   starting at the same moment;
2. binds a plain socket (no `SO_REUSEPORT`) to the address and closes it: if anything at all
   listens there (another program, or an orphaned receiver of a dead predecessor still exiting) the
   bind fails; it is retried for a few seconds (an orphan dies at once, see `runtime/child.py`) and
   then reported the same way.

Ports a reload adds are not checked (the receivers bind them with `SO_REUSEPORT` as before).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import msgspec

from collector.pipeline.model import Pipeline


class PortError(Exception):
    """A receiver port is taken by someone else."""


def listen_endpoints(pipeline: Pipeline) -> list[tuple[str, int]]:
    """(host, port) of every listener the receiver processes will open: each receiver's
    `endpoint` attribute, at the top of its arguments or one block down (`grpc`, `http`)."""
    from collector.pipeline.plan import receiver_components

    found: list[tuple[str, int]] = []
    for rid in receiver_components(pipeline):
        args = pipeline.nodes[rid].args
        candidates: list[object] = [args]
        for name in getattr(args, "__struct_fields__", ()):
            value = getattr(args, name, None)
            if isinstance(value, msgspec.Struct):
                candidates.append(value)
        for candidate in candidates:
            endpoint = getattr(candidate, "endpoint", None)
            if not isinstance(endpoint, str):
                continue
            host, sep, port = endpoint.rpartition(":")
            if sep and port.isdigit() and int(port) > 0:
                found.append((host.strip("[]") or "0.0.0.0", int(port)))
    return sorted(set(found))


@dataclass
class PortGuard:
    fds: list[int] = field(default_factory=list)

    @classmethod
    def claim(cls, endpoints: Iterable[tuple[str, int]], owner: str, *, wait: float = 5.0,
              lock_dir: Path | None = None) -> PortGuard:
        guard = cls()
        try:
            for host, port in endpoints:
                guard._lock(port, owner, lock_dir or Path(tempfile.gettempdir()))
                _probe(host, port, wait)
        except BaseException:
            guard.release()
            raise
        return guard

    def _lock(self, port: int, owner: str, lock_dir: Path) -> None:
        path = lock_dir / f"collector-port-{port}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # another user's lock file: lock it read-only
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip()
            os.close(fd)
            raise PortError(f"port {port} is already served by another collector ({holder or 'unknown'}); "
                            "two collectors cannot share a receiver port") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, owner.encode(), 0)
        except OSError:
            pass
        self.fds.append(fd)

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds.clear()


def _probe(host: str, port: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise PortError(f"cannot resolve listen address {host}:{port}: {exc}") from None
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not a listener
            try:
                sock.bind(address)
                return
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    return  # e.g. an address not on this host: the receiver reports it with context
                if time.monotonic() >= deadline:
                    raise PortError(f"cannot listen on {host}:{port}: address already in use by another "
                                    "process; two collectors cannot share a receiver port") from None
        time.sleep(0.1)
