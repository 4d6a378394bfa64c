"""A plain HTTP POST for tests and benches that care only about the status code."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping


def post_status(url: str, body: bytes, headers: Mapping[str, str], timeout: float = 60.0) -> int:
    """POST `body` and return the answer's status, error statuses included (no exception)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
