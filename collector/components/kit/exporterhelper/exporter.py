"""The lifecycle every connection-pooling queued exporter shares.

An exporter holds two things that outlive a single export: a connection (a gRPC channel, an HTTP
session) and an `ExportSender` (queue -> retry -> timeout around `_push`). Both are replaced
together on reload, and the order is the contract: the new connection and sender start first, so
new payloads never wait; the old sender then drains over the old connection until a deadline,
and only then is the old connection closed. Subclasses supply the connection, the export timeout
and one attempt (`_push`); everything else - start, update, idempotent shutdown, health, and the
rate-limited partial-success warning - lives here once.
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


class QueuedExporter(Component, Generic[A, C], abc.ABC):
    args: A

    def __init__(self, ctx: BuildContext, args: A) -> None:
        super().__init__(ctx, args)
        self.args = args
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

    def _drain_seconds(self, args: A) -> float:
        """How long a replaced sender may keep draining over the old connection on reload."""
        return self._export_timeout(args)

    @abc.abstractmethod
    async def _push(self, payload: Payload) -> None:
        """One export attempt: raise `PermanentError` or `RetryableError` on failure."""

    # --- the shared lifecycle -------------------------------------------------------------------
    def _new_sender(self, args: A) -> ExportSender:
        queued: Any = args  # every exporter's Arguments carries sending_queue and retry_on_failure
        return ExportSender(component_id=self.ctx.component_id, logger=self.logger, push=self._push,
                            timeout=self._export_timeout(args), queue=queued.sending_queue,
                            retry=queued.retry_on_failure)

    async def start(self) -> None:
        if self._connection is None:
            self._connection = self._connect(self.args)
        await self.sender.start()
        self.health = Health(HealthState.HEALTHY, "started component")

    async def update(self, args: msgspec.Struct) -> None:
        assert isinstance(args, type(self.args))
        if args == self.args:
            return
        old_sender, old_connection = self.sender, self._connection
        self.args = args
        self._configure(args)
        self._connection = self._connect(args)
        self.sender = self._new_sender(args)
        await self.sender.start()
        await old_sender.shutdown(time.monotonic() + self._drain_seconds(args))
        if old_connection is not None:
            await old_connection.close()

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
