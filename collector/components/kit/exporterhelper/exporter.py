"""The lifecycle every connection-pooling queued exporter shares.

An exporter holds two things that outlive a single export: a connection (a gRPC channel, an HTTP
session) and an `ExportSender` (queue -> retry -> timeout around `_push`). A reload that changes the
arguments replaces the whole component: the runtime starts the new instance (its own connection and
sender) and re-points the pipeline first, so new payloads never wait; the old instance then drains
its sender over its own connection until the deadline, and only then closes the connection.
Subclasses supply the connection, the export timeout and one attempt (`_push`); everything else -
start, idempotent shutdown, health, and the rate-limited partial-success warning - lives here once.
"""

from __future__ import annotations

import abc
import logging
import time
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from collector.components.kit.api import BuildContext, Component, Health, HealthState
from collector.components.kit.exporterhelper.sender import ExportSender
from collector.signals import Payload

PARTIAL_LOG_INTERVAL = 10.0  # seconds between two partial-success warnings of one component


class Connection(Protocol):
    async def close(self) -> Any: ...


A = TypeVar("A", bound=msgspec.Struct)
C = TypeVar("C", bound=Connection)


class QueuedExporter(Component[A], Generic[A, C], abc.ABC):
    def __init__(self, ctx: BuildContext, args: A) -> None:
        super().__init__(ctx, args)
        self.logger: logging.Logger = ctx.logger
        self._connection: C | None = None
        self._last_partial_log = float("-inf")
        self._configure(args)
        self.sender = self._new_sender(args)

    # --- what a subclass supplies ----------------------------------------------------------------
    def _configure(self, args: A) -> None:
        """Derive per-arguments state that needs no I/O (urls, headers, metadata)."""

    @abc.abstractmethod
    def _connect(self, args: A) -> C:
        """Open the connection pool the pushes of this configuration use."""

    @abc.abstractmethod
    def _export_timeout(self, args: A) -> float:
        """Seconds one export attempt may take."""

    @abc.abstractmethod
    async def _push(self, payload: Payload) -> None:
        """One export attempt: raise `PermanentError` or `RetryableError` on failure."""

    # --- the shared lifecycle -------------------------------------------------------------------
    def _new_sender(self, args: A) -> ExportSender:
        queued: Any = args  # every exporter's Arguments carries sending_queue and retry_on_failure
        return ExportSender(component_id=self.ctx.component_id, logger=self.logger, push=self._push,
                            timeout=self._export_timeout(args), queue=queued.sending_queue,
                            retry=queued.retry_on_failure, worker_signal=self.ctx.worker_signal,
                            worker_index=self.ctx.worker_index, on_health=self._set_health,
                            hand_over=self.hand_over, workers=self.ctx.services.workers_for_signal)

    def _set_health(self, health: Health) -> None:
        if self.health.state is not HealthState.EXITED:
            self.health = health

    async def start(self) -> None:
        if self._connection is None:
            self._connection = self._connect(self.args)
        await self.sender.start()
        self.health = Health(HealthState.HEALTHY, "started component")

    async def shutdown(self, deadline: float | None = None) -> None:
        await self.sender.shutdown(deadline)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self.health = Health(HealthState.EXITED, "component shut down cleanly")

    async def consume(self, payload: Payload) -> None:
        await self.sender.consume(payload)

    def _log_partial(self, warning: str) -> None:
        now = time.monotonic()
        if now - self._last_partial_log >= PARTIAL_LOG_INTERVAL:
            self._last_partial_log = now
            self.logger.warning("Partial success response: %s component_id=%s", warning, self.ctx.component_id)
