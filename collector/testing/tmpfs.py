"""A tiny tmpfs for tests that need a disk to fill up (ENOSPC), mounted for one block.

Mounting needs root; where it cannot be done the test is skipped with `unittest.SkipTest` (which
pytest reports as a skip), never failed, and the reason says loudly that the test did not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unittest
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def mounted_tmpfs(path: Path, size: str, *, what: str) -> Iterator[Path]:
    """Create `path`, mount a tmpfs of `size` (e.g. "6m", "128k") on it for the block, then unmount it
    (lazily if something still holds it). `what` names the test in the skip reason."""
    path.mkdir(exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise unittest.SkipTest(f"{what} NOT RUN: mounting a tiny tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise unittest.SkipTest(f"{what} NOT RUN: cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False, capture_output=True)
        if os.path.ismount(path):
            subprocess.run(["umount", "-l", str(path)], check=False)
