from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest

from collector.runtime.adoption import find_rings


@pytest.fixture
def ident() -> Iterator[str]:
    """A fresh instance identity; the rings named after it are removed afterwards."""
    ident = secrets.token_hex(6)
    yield ident
    for name in find_rings(ident):
        os.unlink(f"/dev/shm/{name.name}")
