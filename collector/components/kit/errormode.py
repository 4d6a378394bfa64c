"""Glue shared by the OTTL processors: rate-limited error logs and counting a dropped payload."""

from __future__ import annotations

import logging
import time
from typing import Callable

from collector.selfmetrics.otelcol import PIPELINE_DROPPED, PROCESSOR_DROPPED
from collector.signals import Payload


class ErrorReporter:
    """Logs at most one statement failure per `interval` seconds, with how many were suppressed
    (error_mode=ignore must not turn bad data into a log per item)."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.next_log = 0.0
        self.suppressed = 0

    def __call__(self, statement: str, exc: Exception) -> None:
        now = self.clock()
        if now < self.next_log:
            self.suppressed += 1
            return
        self.logger.warning("failed to execute OTTL statement %r: %s (%d similar errors suppressed)",
                            statement, exc, self.suppressed)
        self.suppressed = 0
        self.next_log = now + self.interval


def drop_payload(payload: Payload, component_id: str, reason: str, count: int | None = None) -> int:
    """Count the payload's items as dropped and release it."""
    n = payload.item_count if count is None else count
    signal = payload.signal
    PROCESSOR_DROPPED.labels(component_id, "/", signal.value, reason).inc(n)
    PIPELINE_DROPPED[signal].labels(component_id, "/", reason).inc(n)
    payload.settle()
    return n
