"""Metric families of otelcol components (names as the OpenTelemetry Collector and Alloy use them).

Every family carries `component_id` and `component_path` ("/" for the root module, as in Alloy).
Signal-specific families are indexed by `Signal` so callers dispatch once:
`RECEIVER_ACCEPTED[signal].labels(component_id, "/", "http").inc(n)`.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from collector.signals import Signal

_COMPONENT = ("component_id", "component_path")
M = TypeVar("M", bound=MetricWrapperBase)


def _per_signal(kind: type[M], stem: str, doc: str, labels: tuple[str, ...]) -> dict[Signal, M]:
    return {
        signal: kind(stem.format(items=signal.spec.items), doc.format(items=signal.spec.items.replace("_", " ")), labels)
        for signal in Signal
    }


RECEIVER_ACCEPTED: Final = _per_signal(
    Counter, "otelcol_receiver_accepted_{items}", "Number of {items} successfully pushed into the pipeline.",
    _COMPONENT + ("transport",),
)
RECEIVER_REFUSED: Final = _per_signal(
    Counter, "otelcol_receiver_refused_{items}", "Number of {items} that could not be pushed into the pipeline.",
    _COMPONENT + ("transport",),
)
RECEIVER_REQUESTS: Final = Counter(
    "otelcol_receiver_requests", "Export requests received, by outcome.", _COMPONENT + ("transport", "outcome"),
)
# Requests refused before their body was decompressed or decoded (so their items are unknown), by
# reason: "unauthenticated" (missing or wrong credentials), "malformed", "too_large", "decompression",
# "too_many_resources"/"too_many_scopes"/"too_many_items"/"too_many_json_objects" (otlp_limits), ...
RECEIVER_REFUSED_REQUESTS: Final = Counter(
    "otelcol_receiver_refused_requests", "Requests a receiver refused before decoding their data, by reason.",
    _COMPONENT + ("transport", "reason"),
)

EXPORTER_SENT: Final = _per_signal(
    Counter, "otelcol_exporter_sent_{items}", "Number of {items} successfully sent to destination.", _COMPONENT,
)
EXPORTER_SEND_FAILED: Final = _per_signal(
    Counter, "otelcol_exporter_send_failed_{items}", "Number of {items} in failed attempts to send to destination.",
    _COMPONENT,
)
EXPORTER_ENQUEUE_FAILED: Final = _per_signal(
    Counter, "otelcol_exporter_enqueue_failed_{items}", "Number of {items} failed to be added to the sending queue.",
    _COMPONENT,
)
EXPORTER_QUEUE_SIZE: Final = Gauge(
    "otelcol_exporter_queue_size", "Current size of the retry queue (in batches).", _COMPONENT,
    multiprocess_mode="livesum",
)
EXPORTER_QUEUE_CAPACITY: Final = Gauge(
    "otelcol_exporter_queue_capacity", "Fixed capacity of the retry queue (in batches).", _COMPONENT,
    multiprocess_mode="livesum",
)

# What each exporter's sending queue holds, by `storage` ("memory" or "disk"). "Held" means not yet
# settled: waiting in the queue or taken by a sender and still being delivered (retrying). One
# writer per process; the supervisor sums the processes (livesum) and keeps the oldest age (livemax).
_QUEUE_STORAGE = _COMPONENT + ("storage",)


def _queue_gauge(name: str, doc: str, *, extra_labels: tuple[str, ...] = (),
                 mode: Literal["livesum", "livemax"] = "livesum") -> Gauge:
    return Gauge(f"collector_exporter_queue_{name}", doc, _QUEUE_STORAGE + extra_labels, multiprocess_mode=mode)


EXPORTER_QUEUE_REQUESTS: Final = _queue_gauge("requests", "Batches the sending queue holds (waiting or being sent).")
EXPORTER_QUEUE_ITEMS: Final = _queue_gauge(
    "items", "Items (spans, data points, log records) the sending queue holds.")
EXPORTER_QUEUE_BYTES: Final = _queue_gauge(
    "bytes", "Bytes the sending queue holds: framed records on disk, or serialized requests in memory.")
EXPORTER_QUEUE_FILE_BYTES: Final = _queue_gauge(
    "file_bytes",
    "Bytes of the persistent queue's segment files (delivered records stay until their segment is removed).")
EXPORTER_QUEUE_CAPACITY_UNITS: Final = _queue_gauge(
    "capacity", "queue_size, in the unit of the queue's sizer (requests, items or bytes).", extra_labels=("sizer",))
EXPORTER_QUEUE_CAPACITY_BYTES: Final = _queue_gauge(
    "capacity_bytes",
    "Byte budget of the sending queue (disk: the queue directory's budget; memory: only with the bytes sizer).")
EXPORTER_QUEUE_OLDEST_AGE: Final = _queue_gauge(
    "oldest_age_seconds", "Age of the oldest batch the sending queue holds, in seconds (0 when empty).",
    mode="livemax")

PROCESSOR_INCOMING: Final = Counter(
    "otelcol_processor_incoming_items", "Number of items passed to the processor.", _COMPONENT + ("otel_signal",),
)
PROCESSOR_OUTGOING: Final = Counter(
    "otelcol_processor_outgoing_items", "Number of items emitted from the processor.", _COMPONENT + ("otel_signal",),
)
PROCESSOR_REFUSED: Final = _per_signal(
    Counter, "otelcol_processor_refused_{items}",
    "Number of {items} that were rejected by the next component in the pipeline.", _COMPONENT,
)
PROCESSOR_DROPPED: Final = Counter(
    "collector_processor_dropped_items", "Items a processor dropped, by reason.", _COMPONENT + ("otel_signal", "reason"),
)

BATCH_SEND_SIZE: Final = Histogram(
    "otelcol_processor_batch_batch_send_size", "Number of units in the batch.", _COMPONENT,
    buckets=(10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000,
             20000, 30000, 50000, 100000),
)
BATCH_SIZE_TRIGGER: Final = Counter(
    "otelcol_processor_batch_batch_size_trigger_send", "Number of times the batch was sent due to a size trigger.",
    _COMPONENT,
)
BATCH_TIMEOUT_TRIGGER: Final = Counter(
    "otelcol_processor_batch_timeout_trigger_send", "Number of times the batch was sent due to a timeout trigger.",
    _COMPONENT,
)

# Items lost without delivery (worker crash, shutdown with a backend down, ...), by reason.
PIPELINE_DROPPED: Final = _per_signal(
    Counter, "collector_dropped_{items}", "Number of accepted {items} dropped before delivery, by reason.",
    _COMPONENT + ("reason",),
)
