"""Self-metrics of `otelcol.exporter.loadbalancing` (names after the OpenTelemetry Collector's
loadbalancing exporter where it has one: `otelcol_loadbalancer_*`).

Per backend (`endpoint` label): items routed to it and export attempts by outcome; per component:
resolutions by outcome, ring membership changes, and the current backends (a gauge at 1 per
endpoint that is in the ring, summed over the worker processes, so the UI can list them).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

RESOLUTIONS: Final = Counter(
    "otelcol_loadbalancer_num_resolutions", "Backend resolutions, by resolver and outcome.",
    ("component_id", "resolver", "success"),
)
BACKEND_UPDATES: Final = Counter(
    "otelcol_loadbalancer_num_backend_updates", "Changes of the set of backends in the ring.", ("component_id",),
)
BACKENDS: Final = Gauge(
    "otelcol_loadbalancer_num_backends", "Backends in the ring now.", ("component_id",), multiprocess_mode="livemax",
)
BACKEND_MEMBER: Final = Gauge(
    "collector_loadbalancer_backend", "Instances whose ring holds this backend now (summed over worker processes).",
    ("component_id", "endpoint"), multiprocess_mode="livesum",
)
BACKEND_ITEMS: Final = Counter(
    "collector_loadbalancer_backend_items", "Items routed to each backend (spans, log records, data points).",
    ("component_id", "endpoint", "otel_signal"),
)
BACKEND_OUTCOME: Final = Counter(
    "otelcol_loadbalancer_backend_outcome", "Export attempts (requests) to each backend, by outcome.",
    ("component_id", "endpoint", "success"),
)
REROUTED: Final = Counter(
    "collector_loadbalancer_rerouted_items", "Items taken back from a backend that left the ring and routed again.",
    ("component_id", "otel_signal"),
)
