"""Suite-wide hygiene."""

from __future__ import annotations

from typing import Iterator

import pytest

from collector.testing.process import release_orphaned_rings


@pytest.fixture(scope="session", autouse=True)
def no_rings_left_behind() -> Iterator[None]:
    """A collector stopped while its backend was down keeps unsettled records in its shared-memory
    rings for the next start on the same storage path; tests delete those paths, so nothing can
    adopt the rings any more. Unlink them at the end of the session instead of leaving /dev/shm
    to fill up run after run."""
    yield
    release_orphaned_rings()
