"""Malformed requests are the client's fault, not ours: count them, log them quietly.

One client sending garbage must not write a log line per request (or a traceback: a megabyte of log
a second). `MalformedRequestLog` counts every unparsable HTTP request (bad request line, bad header,
broken chunking, header fields over the size limit), logs each at DEBUG as one line, and summarises at
WARNING at most once per `interval` ("refused a malformed HTTP request (N more since the last
warning); last: ...").
"""

from __future__ import annotations

import logging
import time
from typing import Callable

__all__ = ["MalformedRequestLog", "RateLimit"]


class RateLimit:
    """Lets one event through per `interval` seconds and counts the ones it held back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = 0.0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """(may log now, events held back since the last one allowed)."""
        now = self._clock()
        if now < self._next:
            self.suppressed += 1
            return False, 0
        self._next = now + self.interval
        held, self.suppressed = self.suppressed, 0
        return True, held


class MalformedRequestLog:
    def __init__(self, logger: logging.Logger, on_client_error: Callable[[str], None],
                 interval: float = 60.0) -> None:
        self.logger = logger
        self._on_client_error = on_client_error
        self._limit = RateLimit(interval)

    def report(self, peer: str, summary: str) -> None:
        """One malformed request from `peer`; `summary` is one line (no echoed request bytes)."""
        self._on_client_error("bad_http_request")
        where = f"request from {peer or 'an unknown address'}"
        self.logger.debug("%s: %s", where, summary)
        allowed, held = self._limit.allow()
        if allowed:
            more = f" ({held} more since the last warning)" if held else ""
            self.logger.warning("refused a malformed HTTP request%s; last: %s: %s (further ones within %gs are "
                                "counted in otelcol_receiver_refused_requests and logged at debug)",
                                more, where, summary, self._limit.interval)
