"""Reading configuration sources: one file, or every `*.alloy` directly inside a directory (A.1).

Only regular files are read, and at most `MAX_FILE_BYTES` of each: a configuration path pointing at
`/dev/zero`, a FIFO or a multi-gigabyte file would otherwise be read until memory runs out (and a
file that large could not be a configuration a person maintains anyway).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from collector.config.diag import Sources

__all__ = ["MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "read_config", "read_source"]

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024  # all the *.alloy files of a configuration directory together


def read_source(path: str | os.PathLike[str]) -> bytes:
    """The bytes of one configuration file; `OSError` naming the file if it is not a regular file
    or is larger than `MAX_FILE_BYTES`."""
    # stat before opening: opening a FIFO would block until something writes to it
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a configuration is a file, or a directory of "
                                    "*.alloy files)", os.fspath(path))
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(errno.EFBIG, f"configuration file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                      os.fspath(path))
    return data


def read_config(path: str | os.PathLike[str]) -> Sources:
    """Read `path` into `Sources`, keyed by the path as given (joined with the file name for
    directories), so diagnostics print the names the user typed."""
    p = Path(path)
    sources = Sources()
    if p.is_dir():
        names = sorted(child.name for child in p.iterdir() if child.name.endswith(".alloy") and child.is_file())
        total = 0
        for name in names:
            data = read_source(p / name)
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise OSError(errno.EFBIG, f"configuration directory larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB "
                                           f"(at {name})", os.fspath(path))
            sources.add(os.path.join(os.fspath(path), name), data)
        return sources
    sources.add(os.fspath(path), read_source(p))
    return sources
