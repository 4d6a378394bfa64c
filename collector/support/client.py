"""`collector support`: ask a running collector for its bundle and save it."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path


def fetch_bundle(listen_addr: str, duration: float, output: str | None) -> Path:
    """Download `/-/support?duration=...` from the admin server at `listen_addr` into `output`
    (default `collector-support-<UTC time>.zip` in the current directory). Raises OSError."""
    url = f"http://{listen_addr}/-/support?duration={duration:g}"
    path = Path(output or time.strftime("collector-support-%Y%m%dT%H%M%SZ.zip", time.gmtime()))
    try:
        with urllib.request.urlopen(url, timeout=duration + 60) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", errors="replace").strip()
        raise OSError(f"HTTP {err.code}: {detail}") from None
    except urllib.error.URLError as err:
        raise OSError(str(err.reason)) from None
    path.write_bytes(body)
    return path
