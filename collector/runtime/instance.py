"""Which collector this is: an instance is identified by its resolved `--storage.path`.

Theory of operation. The supervisor calls `claim_instance` once, before anything else touches the
storage path or shared memory:

1. The storage path is created if missing, then proven writable by creating and removing a probe
   file. Any failure is an `InstanceError` naming the path (the CLI prints it and exits 1): checked
   once here, so no child ever crash-loops on an unusable directory.
2. `<storage.path>/collector.lock` is locked with `fcntl.flock(LOCK_EX | LOCK_NB)` and the lock is
   held by the supervisor for its whole life (the descriptor is close-on-exec, so children inherit
   nothing and a SIGKILLed supervisor releases it at once). A second collector with the same storage
   path fails to lock and exits 1 saying which pid holds it.
3. The instance id is a short hash of the resolved path. Every name this instance puts in shared
   places carries it: rings (`/dev/shm/collector-ring-i<id>-...`, see `collector.runtime.adoption`)
   and run directories (`<tmp>/collector-i<id>-<pid>-...`). Holding the lock proves that every such
   name left over belongs to a dead predecessor: its rings are adopted, its run directories removed.
   Collectors with different storage paths have different ids and never touch each other's names.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

LOCK_NAME: Final = "collector.lock"
RUN_DIR_PREFIX: Final = "collector-i"


class InstanceError(Exception):
    """The collector cannot run as this instance (storage path unusable, or already in use)."""


@dataclass
class Instance:
    storage_path: Path  # resolved
    id: str
    lock_fd: int

    def release(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # closing the only descriptor releases the flock
            self.lock_fd = -1

    def make_run_dir(self) -> Path:
        """A fresh run directory after removing those a dead predecessor of this instance left."""
        remove_stale_run_dirs(self.id)
        return Path(tempfile.mkdtemp(prefix=f"{RUN_DIR_PREFIX}{self.id}-{os.getpid()}-"))


def instance_id(storage_path: Path) -> str:
    return hashlib.sha256(os.fsencode(storage_path)).hexdigest()[:12]


def claim_instance(storage_path: str | Path) -> Instance:
    """Check the storage path once and take its lock; raises InstanceError naming the path."""
    path = Path(storage_path).absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstanceError(f"--storage.path {str(path)!r} cannot be created: {_reason(exc)}") from None
    path = path.resolve()
    if not path.is_dir():
        raise InstanceError(f"--storage.path {str(path)!r} is not a directory")
    probe = path / f".collector-write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise InstanceError(f"--storage.path {str(path)!r} is not writable: {_reason(exc)}") from None
    lock_path = path / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise InstanceError(f"cannot open the lock file {str(lock_path)!r}: {_reason(exc)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _read_holder(fd)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise InstanceError(
                f"another collector is already running with --storage.path {str(path)!r}"
                f"{f' (pid {holder})' if holder else ''}: it holds {str(lock_path)!r}; "
                "stop it or give this collector its own --storage.path") from None
        raise InstanceError(f"cannot lock {str(lock_path)!r}: {_reason(exc)}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return Instance(path, instance_id(path), fd)


def remove_stale_run_dirs(ident: str, tmp: Path | None = None) -> list[Path]:
    """Remove `<tmp>/collector-i<id>-*`: only a dead predecessor of the lock holder can own them."""
    base = Path(tmp or tempfile.gettempdir())
    removed = []
    for path in base.glob(f"{RUN_DIR_PREFIX}{ident}-*"):
        if path.is_dir():
            log.info("removing run directory %s left by a collector that is gone", path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
