"""The `sending_queue` and `retry_on_failure` blocks every queued exporter accepts (Alloy defaults)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from collector.components.kit.api import ArgumentError
from collector.components.kit.exporterhelper.persistent import FileStorageHandler
from collector.components.kit.types import Duration

SIZERS = ("requests", "items", "bytes")


class RetryArgs(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = True
    initial_interval: Duration = 5.0
    max_interval: Duration = 30.0
    multiplier: float = 1.5
    randomization_factor: float = 0.5
    max_elapsed_time: Duration = 300.0  # 0 = retry forever

    def validate(self) -> None:
        if not self.enabled:
            return
        if self.initial_interval <= 0:
            raise ArgumentError("initial_interval must be positive", "retry_on_failure.initial_interval")
        if self.max_interval < self.initial_interval:
            raise ArgumentError("max_interval must be >= initial_interval", "retry_on_failure.max_interval")
        if self.multiplier < 1:
            raise ArgumentError("multiplier must be >= 1", "retry_on_failure.multiplier")
        if not 0 <= self.randomization_factor < 1:
            raise ArgumentError("randomization_factor must be in [0, 1)", "retry_on_failure.randomization_factor")
        if self.max_elapsed_time < 0:
            raise ArgumentError("max_elapsed_time must not be negative", "retry_on_failure.max_elapsed_time")


class QueueBatchArgs(msgspec.Struct, frozen=True, kw_only=True):
    flush_timeout: Duration = 0.2
    min_size: int = 2000
    max_size: int = 3000
    sizer: str = "items"


class QueueArgs(msgspec.Struct, frozen=True, kw_only=True):
    NOT_APPLIED: ClassVar[dict[str, str]] = {
        "block_on_overflow": "a full queue always holds the caller here (backpressure up to the client), "
                             "which is what block_on_overflow = true asks for",
        "blocking": "a full queue always holds the caller here (backpressure up to the client)",
        "wait_for_result": "a payload is settled once it is queued (or persisted with storage); the client's "
                           "answer never waits for the backend",
        "batch": "the sending queue does not batch; use otelcol.processor.batch",
    }

    enabled: bool = True
    num_consumers: int = 10
    queue_size: int = 1000
    sizer: str = "requests"
    block_on_overflow: bool = False  # accepted; this collector always blocks (see exporterhelper.queue)
    wait_for_result: bool = False
    blocking: bool = False  # deprecated spelling of block_on_overflow
    # `otelcol.storage.file.<label>.handler`: the queue lives on disk (exporterhelper.persistent)
    storage: FileStorageHandler | None = None
    batch: QueueBatchArgs | None = None

    def validate(self) -> None:
        if not self.enabled:
            if self.storage is not None:
                raise ArgumentError("storage needs the sending queue: remove storage or set enabled = true",
                                    "sending_queue.storage")
            return
        if self.num_consumers < 1:
            raise ArgumentError("num_consumers must be positive", "sending_queue.num_consumers")
        if self.queue_size < 1:
            raise ArgumentError("queue_size must be positive", "sending_queue.queue_size")
        if self.sizer not in SIZERS:
            raise ArgumentError(f"sizer must be one of {', '.join(SIZERS)}", "sending_queue.sizer")
