"""Items per second per component, from the merged self-metrics registry (sans-IO).

The admin server samples the registry every few seconds (`read_counters`) and feeds the samples to a
`RateTracker`, which answers "how many items per second did component X take in / send out over the
last window". Rates come from counters the components already keep for `/metrics`; nothing on the
hot path changes for the UI.

Per component and signal:
* in  = otelcol_receiver_accepted_* (receivers), otelcol_processor_incoming_items (processors),
        prometheus_relabel_metrics_processed (prometheus.relabel);
* out = otelcol_receiver_accepted_* (a receiver pushes on what it accepted),
        otelcol_processor_outgoing_items, otelcol_exporter_sent_*, prometheus_forwarded_samples,
        prometheus_remote_storage_samples (attempts) minus its failed and retried samples.
A component with none of these counters has no rate (the UI shows "—"), never a made-up zero.

Per edge: the source's `out` rate for the edge's signal. With fan-out every target receives what the
source emits, so this is exact for a single downstream and for copies; it overestimates only when a
component routes different items to different targets of the same signal (none of ours does).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from collector.signals import Signal

# (component_id, stat, signal or "") -> value
Key = tuple[str, str, str]

_ITEMS = {signal.spec.items: signal.value for signal in Signal}


def _per_signal_rules() -> dict[str, tuple[tuple[str, ...], str]]:
    rules: dict[str, tuple[tuple[str, ...], str]] = {}
    for items, signal in _ITEMS.items():
        rules[f"otelcol_receiver_accepted_{items}_total"] = (("accepted", "in", "out"), signal)
        rules[f"otelcol_receiver_refused_{items}_total"] = (("refused",), signal)
        rules[f"otelcol_processor_refused_{items}_total"] = (("refused",), signal)
        rules[f"otelcol_exporter_sent_{items}_total"] = (("sent", "out"), signal)
        rules[f"otelcol_exporter_send_failed_{items}_total"] = (("failed",), signal)
        rules[f"otelcol_exporter_enqueue_failed_{items}_total"] = (("refused",), signal)
        rules[f"collector_dropped_{items}_total"] = (("dropped",), signal)
    return rules


# sample name -> (stats it adds to, signal); signal "*" means "read the otel_signal label", "@name" means
# "read the label `name`" (the queue gauges keep their storage or sizer there)
SAMPLE_RULES: dict[str, tuple[tuple[str, ...], str]] = {
    **_per_signal_rules(),
    "otelcol_processor_incoming_items_total": (("accepted", "in"), "*"),
    "otelcol_processor_outgoing_items_total": (("sent", "out"), "*"),
    "collector_processor_dropped_items_total": (("dropped",), "*"),
    "otelcol_exporter_queue_size": (("queue_size",), ""),
    "otelcol_exporter_queue_capacity": (("queue_capacity",), ""),
    "collector_exporter_queue_requests": (("sending_queue_requests",), "@storage"),
    "collector_exporter_queue_items": (("sending_queue_items",), "@storage"),
    "collector_exporter_queue_bytes": (("sending_queue_bytes",), "@storage"),
    "collector_exporter_queue_file_bytes": (("sending_queue_file_bytes",), "@storage"),
    "collector_exporter_queue_capacity_bytes": (("sending_queue_capacity_bytes",), "@storage"),
    "collector_exporter_queue_oldest_age_seconds": (("sending_queue_oldest_age",), "@storage"),
    "collector_exporter_queue_capacity": (("sending_queue_capacity",), "@sizer"),
    # otelcol.exporter.loadbalancing: the backends in its ring, and what was routed to each
    "collector_loadbalancer_backend": (("lb_backend",), "@endpoint"),
    "collector_loadbalancer_backend_items_total": (("lb_backend_items",), "@endpoint"),
    "prometheus_forwarded_samples_total": (("sent", "out"), "metrics"),
    "prometheus_relabel_metrics_processed_total": (("accepted", "in"), "metrics"),
    # remote write counts every attempt in samples_total (as Prometheus does): sent = attempts - failed ones
    "prometheus_remote_storage_samples_total": (("attempted",), "metrics"),
    "prometheus_remote_storage_samples_failed_total": (("failed", "unsuccessful"), "metrics"),
    "prometheus_remote_storage_samples_retried_total": (("failed", "unsuccessful"), "metrics"),
    "prometheus_remote_storage_samples_dropped_total": (("dropped",), "metrics"),
    "prometheus_remote_storage_samples_pending": (("queue_size",), ""),
    "collector_exporter_prometheus_dropped_metric_points_total": (("dropped",), "metrics"),
}

COUNTER_STATS = ("accepted", "refused", "sent", "failed", "dropped")


def counters_from_samples(samples: Iterable[tuple[str, Mapping[str, str], float]]) -> dict[Key, float]:
    """Fold (name, labels, value) samples into per-component stats; unknown samples are ignored."""
    values: dict[Key, float] = {}
    for name, labels, value in samples:
        rule = SAMPLE_RULES.get(name)
        component = labels.get("component_id")
        if rule is None or not component:
            continue
        stats, signal = rule
        if signal == "*":
            signal = labels.get("otel_signal", "")
        elif signal.startswith("@"):
            signal = labels.get(signal[1:], "")
        for stat in stats:
            key = (component, stat, signal)
            values[key] = values.get(key, 0.0) + value
    for (component, stat, signal), attempted in list(values.items()):
        if stat == "attempted":
            sent = max(attempted - values.get((component, "unsuccessful", signal), 0.0), 0.0)
            for target in ("sent", "out"):
                values[(component, target, signal)] = values.get((component, target, signal), 0.0) + sent
    return values


def read_counters(registry: Any) -> dict[Key, float]:
    """One sample of every counter the UI uses, from a prometheus_client registry."""
    return counters_from_samples(
        (sample.name, sample.labels, sample.value) for family in registry.collect() for sample in family.samples
    )


@dataclass
class RateTracker:
    """Counter samples over a sliding window; rates are (newest - oldest in window) / elapsed."""

    window: float = 10.0
    _samples: deque[tuple[float, dict[Key, float]]] = field(default_factory=deque)

    def observe(self, at: float, values: dict[Key, float]) -> None:
        self._samples.append((at, values))
        # keep one sample at or beyond the window's start, so a full window is always measurable
        while len(self._samples) > 2 and self._samples[1][0] <= at - self.window:
            self._samples.popleft()

    @property
    def latest(self) -> dict[Key, float]:
        return self._samples[-1][1] if self._samples else {}

    @property
    def span(self) -> float:
        """Seconds the current rates are measured over (0 until two samples exist)."""
        return self._samples[-1][0] - self._samples[0][0] if len(self._samples) > 1 else 0.0

    def delta(self, key: Key) -> float | None:
        """Increase of a counter over the window; None if it does not exist or cannot be measured yet."""
        if len(self._samples) < 2:
            return None
        new = self._samples[-1][1].get(key)
        if new is None:
            return None
        old = self._samples[0][1].get(key, 0.0)
        return new - old if new >= old else new  # a counter that went down was reset: count from zero

    def rate(self, key: Key) -> float | None:
        change = self.delta(key)
        span = self.span
        if change is None or span <= 0:
            return None
        return change / span

    def component_rate(self, component: str, stat: str, signal: str | None = None) -> float | None:
        """Sum over signals (or one signal); None if the component has no such counter at all."""
        keys = [k for k in self.latest if k[0] == component and k[1] == stat and (signal is None or k[2] == signal)]
        rates = [r for r in (self.rate(k) for k in keys) if r is not None]
        return sum(rates) if rates else None

    def component_total(self, component: str, stat: str) -> float | None:
        values = [v for (c, s, _sig), v in self.latest.items() if c == component and s == stat]
        return sum(values) if values else None


@dataclass
class DerivedHealth:
    """Health inferred from counters, for exporters that report only start/stop health.

    Over the window: items failed and none were sent -> unhealthy; items are waiting for the
    exporter and none were sent -> unhealthy (a backend that is down keeps batches in retry for
    minutes before they count as failed); items were sent -> healthy. With no traffic nothing is
    learned and the last inferred state stays (a backend that was down is still assumed down until
    a send succeeds).
    """

    state: str
    message: str
    updated: float


def derive_health(previous: DerivedHealth | None, failed: float | None, sent: float | None, window: float,
                  now: float, waiting: float | None = None) -> DerivedHealth | None:
    failed = failed or 0.0
    sent = sent or 0.0
    if failed > 0 and sent == 0:
        message = f"derived from counters: {failed:.0f} items failed to send in the last {window:.0f}s, none sent"
        state = "unhealthy"
    elif sent > 0:
        message = f"derived from counters: {sent:.0f} items sent in the last {window:.0f}s"
        if failed > 0:
            message += f", {failed:.0f} failed"
        state = "healthy"
    elif waiting:
        message = (f"derived from counters: {waiting:.0f} items waiting to be sent and none sent in the last "
                   f"{window:.0f}s (backend down or slow?)")
        state = "unhealthy"
    else:
        return previous
    if previous is not None and previous.state == state:
        return DerivedHealth(state, message, previous.updated)
    return DerivedHealth(state, message, now)
