"""Reading configuration sources: one file, or every `*.alloy` directly inside a directory (A.1)."""

from __future__ import annotations

import os
from pathlib import Path

from collector.config.diag import Sources


def read_config(path: str | os.PathLike[str]) -> Sources:
    """Read `path` into `Sources`, keyed by the path as given (joined with the file name for
    directories), so diagnostics print the names the user typed."""
    p = Path(path)
    sources = Sources()
    if p.is_dir():
        names = sorted(child.name for child in p.iterdir() if child.name.endswith(".alloy") and child.is_file())
        for name in names:
            sources.add(os.path.join(os.fspath(path), name), (p / name).read_bytes())
        return sources
    sources.add(os.fspath(path), p.read_bytes())
    return sources
