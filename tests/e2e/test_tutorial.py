"""The tutorial's OpenTelemetry gateway (`examples/opentelemetry.alloy`) run end to end.

A real `collector run` with the example configuration (ports and backend URLs swapped for local
ones, and where a test says so one argument added), the OpenTelemetry Python SDK as the
application, and three backend doubles: Loki and Tempo are OTLP/HTTP sinks, Prometheus is a
remote-write sink. Expected values follow the upstream semantics of each component:

* resourcedetection (`env`, `system` with `hostname_sources = ["os"]`): detected attributes are
  `host.name` (the OS hostname) and `os.type`, plus whatever `OTEL_RESOURCE_ATTRIBUTES` holds in the
  collector's environment; with the default `override = true` they replace the application's
  values, with `override = false` they fill in only absent keys.
* host_info: every distinct `host.name` on trace resources becomes one point of the gauge
  `traces_host_info{grafana_host_id=...}` (scope `hostinfoconnector`) per flush interval, and at
  shutdown.
* transform: `set(attributes[k], resource.attributes[k])` copies the two attributes to each data
  point, and does nothing when the resource lacks them (a nil value sets nothing).
* otelcol.exporter.prometheus: `job` = `namespace/name`, `instance` = `service.instance.id`,
  `otel_scope_*` labels, unit and type suffixes, and `target_info` carrying the non-identifying
  resource attributes.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from opentelemetry.sdk.resources import Resource

from collector.signals import Signal
from collector.testing.process import CollectorProcess, OtlpEndpoints, free_port
from collector.testing.remote_write_sink import RemoteWriteSinkThread, Sample
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "opentelemetry.alloy"
HOST = socket.gethostname()  # what the `system` detector with hostname_sources = ["os"] reports
OS_TYPE = "linux"
SITE_ENV = "collector.site=lab"  # the `env` detector's input, in the collector's environment only
FLUSH = 2.0  # seconds: metrics_flush_interval of the host_info variants

SDK_BUCKETS = ("0", "5", "10", "25", "50", "75", "100", "250", "500", "750", "1000", "2500", "5000", "7500",
               "10000", "+Inf")

pytestmark = pytest.mark.timeout(180)


def _replace_once(text: str, old: str, new: str) -> str:
    """Edit the example in one known place; if the example changes shape, fail loudly here."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in {EXAMPLE.name}"
    return text.replace(old, new)


def tutorial_config(grpc_port: int, http_port: int, *, flush_interval: float | None = None,
                    override: bool | None = None) -> str:
    text = EXAMPLE.read_text()
    text = _replace_once(text, '"127.0.0.1:4317"', f'"127.0.0.1:{grpc_port}"')
    text = _replace_once(text, '"127.0.0.1:4318"', f'"127.0.0.1:{http_port}"')
    if flush_interval is not None:
        text = _replace_once(text, 'host_identifiers = ["host.name"]\n',
                             f'host_identifiers = ["host.name"]\n  metrics_flush_interval = "{flush_interval}s"\n')
    if override is not None:
        text = _replace_once(text, 'detectors = ["env", "system"]\n',
                             f'detectors = ["env", "system"]\n  override  = {str(override).lower()}\n')
    return text


@dataclass
class Tutorial(OtlpEndpoints):
    collector: CollectorProcess
    loki: SinkThread
    tempo: SinkThread
    prometheus: RemoteWriteSinkThread
    grpc_port: int
    http_port: int

    def resource_spans(self) -> list[tuple[dict[str, object], list[str]]]:
        """(resource attributes, span names) per ResourceSpans that reached Tempo."""
        return [(_attrs(rs.resource.attributes), [span.name for ss in rs.scope_spans for span in ss.spans])
                for req in self.tempo.sink.received[Signal.TRACES] for rs in req.resource_spans]

    def resource_logs(self) -> list[tuple[dict[str, object], list[str]]]:
        return [(_attrs(rl.resource.attributes), [rec.body.string_value for sl in rl.scope_logs for rec in sl.log_records])
                for req in self.loki.sink.received[Signal.LOGS] for rl in req.resource_logs]

    def host_info(self, host: str | None = None) -> list[Sample]:
        labels = {} if host is None else {"grafana_host_id": host}
        return self.prometheus.sink.samples("traces_host_info", **labels)


def _attrs(key_values: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in key_values:  # type: ignore[attr-defined]
        out[kv.key] = getattr(kv.value, kv.value.WhichOneof("value"))
    return out


def start_tutorial(*, workers: int = 1, **variant: object) -> Tutorial:
    loki = SinkThread(OtlpSink(keep_requests=True)).start()
    tempo = SinkThread(OtlpSink(keep_requests=True)).start()
    prometheus = RemoteWriteSinkThread().start()
    grpc_port, http_port = free_port(), free_port()
    env = {
        "LOKI_OTLP_URL": f"{loki.url}/otlp",
        "TEMPO_OTLP_URL": tempo.url,
        "PROMETHEUS_URL": prometheus.url,
        "OTEL_RESOURCE_ATTRIBUTES": SITE_ENV,
        "COLLECTOR_TRACES_WORKERS": str(workers),
        "COLLECTOR_METRICS_WORKERS": str(workers),
        "COLLECTOR_LOGS_WORKERS": "1",
    }
    collector = CollectorProcess(tutorial_config(grpc_port, http_port, **variant), env=env)  # type: ignore[arg-type]
    try:
        collector.start()
    except Exception:
        collector.close()
        for sink in (loki, tempo, prometheus):
            sink.stop()
        raise
    return Tutorial(collector, loki, tempo, prometheus, grpc_port, http_port)


def _tutorial_fixture(**variant: object) -> Iterator[Tutorial]:
    tutorial = start_tutorial(**variant)  # type: ignore[arg-type]
    try:
        yield tutorial
    finally:
        tutorial.collector.close()
        for sink in (tutorial.loki, tutorial.tempo, tutorial.prometheus):
            sink.stop()


@pytest.fixture
def tutorial() -> Iterator[Tutorial]:
    """The example exactly as shipped (host_info flushes every 60s and at shutdown)."""
    yield from _tutorial_fixture()


@pytest.fixture
def tutorial_no_override() -> Iterator[Tutorial]:
    yield from _tutorial_fixture(flush_interval=FLUSH, override=False)


@pytest.fixture
def tutorial_two_workers() -> Iterator[Tutorial]:
    yield from _tutorial_fixture(flush_interval=FLUSH, workers=2)


def _sdk_resource(attributes: dict[str, str]) -> dict[str, object]:
    """What the SDK itself puts on a resource built from `attributes` (telemetry.sdk.*, defaults)."""
    return dict(Resource.create(attributes).attributes)


def _prom_label(key: str) -> str:
    return key.replace(".", "_")


# --- 1. traces -> Tempo, hosts -> traces_host_info ----------------------------------------------
def test_traces_reach_tempo_with_detected_host_and_host_info_is_flushed_at_shutdown(tutorial: Tutorial) -> None:
    sent_ms = int(time.time() * 1000)
    send_spans("http", tutorial.http_url, 20, resource={"service.name": "checkout", "host.name": "h1"}, name="a")
    send_spans("grpc", tutorial.grpc_endpoint, 15, resource={"service.name": "checkout", "host.name": "h2"}, name="b")
    assert wait_until(lambda: tutorial.tempo.sink.items(Signal.TRACES) >= 35)

    arrived = tutorial.resource_spans()
    assert sorted(name for _, names in arrived for name in names) == ["a"] * 20 + ["b"] * 15
    for attributes, _ in arrived:
        # override = true (the default): the collector host's identity replaces the application's.
        assert attributes == {**_sdk_resource({"service.name": "checkout"}),
                              "host.name": HOST, "os.type": OS_TYPE, "collector.site": "lab"}

    # The shipped flush interval is 60s, aligned to the wall clock, so a periodic flush may or may not
    # fall inside this test (even between the spans' arrival and this line); SIGTERM flushes whatever
    # was seen since. Either way the hosts of the spans above are reported after they were sent, and
    # before the collector exits.
    assert tutorial.collector.stop() == 0
    samples = tutorial.host_info()
    host_info = {"__name__": "traces_host_info", "grafana_host_id": HOST, "otel_scope_name": "hostinfoconnector"}
    assert {(tuple(sorted(s.label_map.items())), s.value) for s in samples} == {(tuple(sorted(host_info.items())), 1.0)}
    late = [s for s in samples if s.timestamp_ms >= sent_ms]
    assert late, "host_info never reported the hosts of the spans sent"
    assert len(samples) <= 2  # at most one wall-clock boundary within the test, plus shutdown
    assert tutorial.prometheus.sink.errors == []


# --- 2. metrics -> Prometheus, resource attributes promoted to labels ---------------------------
def test_metrics_carry_promoted_resource_attributes_and_target_info(tutorial: Tutorial) -> None:
    full = {"service.name": "api", "service.namespace": "shop", "service.instance.id": "api-1",
            "deployment.environment": "prod", "service.version": "1.2.3", "host.name": "app-box"}
    bare = {"service.name": "worker"}
    send_metrics("http", tutorial.http_url, resource=full, attributes={"route": "/a"})
    send_metrics("grpc", tutorial.grpc_endpoint, resource=bare, counter_value=9, gauge_value=-4.0,
                 histogram_values=(30.0,), attributes={"route": "/b"})
    sink = tutorial.prometheus.sink
    # Per resource: counter, gauge, up-down counter, 16 buckets + sum + count, target_info.
    assert wait_until(lambda: len(sink.series(job="shop/api")) >= 22 and len(sink.series(job="worker")) >= 22)

    promoted = {"deployment_environment": "prod", "service_version": "1.2.3"}
    scope = {"otel_scope_name": "collector.tests", "otel_scope_version": "1.0"}
    api = {"job": "shop/api", "instance": "api-1", **promoted, **scope, "route": "/a"}
    # The SDK gives a resource without one a per-process service.instance.id of its own.
    worker_instance = str(_sdk_resource(bare)["service.instance.id"])
    worker = {"job": "worker", "instance": worker_instance, **scope, "route": "/b"}

    def only(name: str, **labels: str) -> tuple[dict[str, str], float]:
        series = sink.series(name, **labels)
        assert len(series) == 1, f"{name} {labels}: {list(series)}"
        (samples,) = series.values()
        return samples[-1].label_map, samples[-1].value

    assert only("requests_total", job="shop/api") == ({"__name__": "requests_total", **api}, 5.0)
    assert only("queue_depth", job="shop/api") == ({"__name__": "queue_depth", **api}, 3.0)
    assert only("temperature_celsius", job="shop/api") == ({"__name__": "temperature_celsius", **api}, 2.5)
    assert only("latency_milliseconds_sum", job="shop/api") == ({"__name__": "latency_milliseconds_sum", **api}, 8.0)
    assert only("latency_milliseconds_count", job="shop/api") == (
        {"__name__": "latency_milliseconds_count", **api}, 2.0)
    buckets = {labels["le"]: value for labels, value in
               (only("latency_milliseconds_bucket", job="shop/api", le=le) for le in SDK_BUCKETS)}
    assert buckets == {le: (0.0 if le == "0" else 1.0 if le == "5" else 2.0) for le in SDK_BUCKETS}
    assert only("latency_milliseconds_bucket", job="shop/api", le="+Inf")[0] == {
        "__name__": "latency_milliseconds_bucket", **api, "le": "+Inf"}

    # No deployment.environment / service.version on the resource: no such labels.
    assert only("requests_total", job="worker") == ({"__name__": "requests_total", **worker}, 9.0)
    assert only("queue_depth", job="worker") == ({"__name__": "queue_depth", **worker}, 7.0)
    assert only("temperature_celsius", job="worker") == ({"__name__": "temperature_celsius", **worker}, -4.0)
    assert only("latency_milliseconds_bucket", job="worker", le="25") == (
        {"__name__": "latency_milliseconds_bucket", **worker, "le": "25"}, 0.0)
    assert only("latency_milliseconds_bucket", job="worker", le="50")[1] == 1.0

    detected = {"host_name": HOST, "os_type": OS_TYPE, "collector_site": "lab"}

    def target_info(resource: dict[str, str], identity: dict[str, str]) -> dict[str, str]:
        sdk = _sdk_resource(resource)
        rest = {_prom_label(k): str(v) for k, v in sdk.items()
                if k not in ("service.name", "service.namespace", "service.instance.id", "host.name")}
        return {"__name__": "target_info", **identity, **rest, **detected}

    assert only("target_info", job="shop/api") == (
        target_info(full, {"job": "shop/api", "instance": "api-1"}), 1.0)
    assert only("target_info", job="worker") == (
        target_info(bare, {"job": "worker", "instance": worker_instance}), 1.0)

    names = sink.names()
    assert names == {"requests_total", "queue_depth", "temperature_celsius", "latency_milliseconds_bucket",
                     "latency_milliseconds_sum", "latency_milliseconds_count", "target_info"}
    assert sink.errors == []


# --- 3. logs -> Loki ------------------------------------------------------------------------------
def test_logs_reach_loki_with_detected_resource_attributes(tutorial: Tutorial) -> None:
    send_logs("http", tutorial.http_url, 40, resource={"service.name": "web", "host.name": "app-box"})
    send_logs("grpc", tutorial.grpc_endpoint, 10, resource={"service.name": "cron"})
    assert wait_until(lambda: tutorial.loki.sink.items(Signal.LOGS) >= 50)

    by_service: dict[object, list[str]] = {}
    for attributes, bodies in tutorial.resource_logs():
        service = attributes["service.name"]
        assert attributes == {**_sdk_resource({"service.name": str(service)}),
                              "host.name": HOST, "os.type": OS_TYPE, "collector.site": "lab"}
        by_service.setdefault(service, []).extend(bodies)
    assert sorted(by_service["web"]) == sorted(f"line {i}" for i in range(40))
    assert sorted(by_service["cron"]) == sorted(f"line {i}" for i in range(10))
    assert set(by_service) == {"web", "cron"}
    # Logs take no part in host_info.
    assert tutorial.collector.stop() == 0
    assert tutorial.host_info() == []


# --- 4. override = false ----------------------------------------------------------------------------
def test_override_false_keeps_application_host_and_fills_missing(tutorial_no_override: Tutorial) -> None:
    tut = tutorial_no_override
    send_spans("http", tut.http_url, 10, resource={"service.name": "checkout", "host.name": "h1",
                                                    "collector.site": "app"}, name="kept")
    send_spans("http", tut.http_url, 5, resource={"service.name": "checkout"}, name="filled")
    send_metrics("http", tut.http_url, resource={"service.name": "api", "host.name": "h1"})
    assert wait_until(lambda: tut.tempo.sink.items(Signal.TRACES) >= 15)

    by_name = {names[0]: attributes for attributes, names in tut.resource_spans()}
    assert by_name["kept"] == {**_sdk_resource({"service.name": "checkout"}),
                               "host.name": "h1", "collector.site": "app", "os.type": OS_TYPE}
    assert by_name["filled"] == {**_sdk_resource({"service.name": "checkout"}),
                                 "host.name": HOST, "collector.site": "lab", "os.type": OS_TYPE}

    assert wait_until(lambda: {s.label_map["grafana_host_id"] for s in tut.host_info()} >= {"h1", HOST},
                      timeout=4 * FLUSH + 30)
    assert {s.label_map["grafana_host_id"] for s in tut.host_info()} == {"h1", HOST}
    assert all(s.value == 1.0 for s in tut.host_info())

    sink = tut.prometheus.sink
    assert wait_until(lambda: bool(sink.series("target_info", job="api")))
    (labels,) = sink.series("target_info", job="api")
    assert dict(labels)["host_name"] == "h1"
    assert dict(labels)["collector_site"] == "lab"
    assert sink.errors == []


# --- 5. several workers per signal --------------------------------------------------------------
def test_two_workers_deliver_everything_and_report_each_host_once_per_interval(
        tutorial_two_workers: Tutorial) -> None:
    tut = tutorial_two_workers

    def trace_round(tag: str) -> None:
        for i in range(8):  # separate requests: the receiver rotates trace requests over the workers
            send_spans("http" if i % 2 else "grpc", tut.http_url if i % 2 else tut.grpc_endpoint, 25,
                       resource={"service.name": f"svc{i % 3}", "host.name": f"h{i}"}, name=f"{tag}{i}")

    trace_round("r")
    for i in range(6):
        send_metrics("http", tut.http_url, resource={"service.name": f"m{i}", "service.instance.id": f"m{i}-0"},
                     counter_value=10 + i)
    send_logs("http", tut.http_url, 30, resource={"service.name": "web"})

    assert wait_until(lambda: len(tut.host_info()) >= 1, timeout=4 * FLUSH + 30)
    trace_round("s")  # a second round, reported in a later interval
    assert wait_until(lambda: len(tut.host_info()) >= 2, timeout=4 * FLUSH + 30)

    assert wait_until(lambda: tut.tempo.sink.items(Signal.TRACES) >= 400)
    assert wait_until(lambda: tut.loki.sink.items(Signal.LOGS) >= 30)
    sink = tut.prometheus.sink
    assert wait_until(lambda: len(sink.series("requests_total")) >= 6)

    spans = sorted(name for _, names in tut.resource_spans() for name in names)
    assert spans == sorted(f"{tag}{i}" for tag in "rs" for i in range(8) for _ in range(25))
    assert tut.tempo.sink.items(Signal.TRACES) == 400
    assert tut.loki.sink.items(Signal.LOGS) == 30
    counters = {labels["job"]: value for labels, value in
                ((s.label_map, s.value) for s in sink.samples("requests_total"))}
    assert counters == {f"m{i}": float(10 + i) for i in range(6)}

    # override = true collapses every application host into the collector's; that one host is
    # reported by one process per interval, never by each worker that saw it.
    samples = tut.host_info()
    assert {s.label_map["grafana_host_id"] for s in samples} == {HOST}
    per_interval: dict[int, int] = {}
    for sample in samples:
        index = int(sample.timestamp_ms // int(FLUSH * 1000))
        per_interval[index] = per_interval.get(index, 0) + 1
    assert set(per_interval.values()) == {1}, per_interval
    assert sink.errors == []


@pytest.fixture
def tutorial_two_workers_no_override() -> Iterator[Tutorial]:
    """Shipped 60s flush interval; hosts kept as sent, so each worker sees different ones."""
    yield from _tutorial_fixture(override=False, workers=2)


def test_two_workers_report_every_host_once_at_shutdown(tutorial_two_workers_no_override: Tutorial) -> None:
    tut = tutorial_two_workers_no_override
    for i in range(8):  # one request per host; the receiver rotates them over both traces workers
        send_spans("http", tut.http_url, 3, resource={"service.name": "svc", "host.name": f"h{i}"}, name=f"h{i}")
    assert wait_until(lambda: tut.tempo.sink.items(Signal.TRACES) >= 24)
    assert {str(attributes["host.name"]) for attributes, _ in tut.resource_spans()} == {f"h{i}" for i in range(8)}
    assert tut.collector.stop() == 0

    # Every host exactly once, whichever worker saw it (a wall-clock boundary inside the test may
    # split the hosts over two flushes, but never report one twice: hosts are taken when flushed).
    samples = tut.host_info()
    assert sorted(s.label_map["grafana_host_id"] for s in samples) == [f"h{i}" for i in range(8)]
    assert {s.value for s in samples} == {1.0}
    assert tut.prometheus.sink.errors == []


# --- a processor of the user's in front of signal-specific components ------------------------------
# The tutorial with another processor in front of the same downstream components as resourcedetection.
# That processor runs in every worker, but host_info runs only in traces workers and transform only
# in metrics workers: each worker must start and wire just the outputs it hosts (this crash-looped
# every worker while processors resolved all their outputs at start()).
_IN_FRONT = {
    "attributes": 'action {\n    key    = "gateway"\n    value  = "tutorial"\n    action = "insert"\n  }',
    "memory_limiter": 'check_interval = "1s"\n  limit          = "4GiB"',
}
_IN_FRONT_OUTPUT = """
  output {
    metrics = [otelcol.processor.transform.promote_resource_attributes.input]
    logs    = [otelcol.processor.batch.default.input]
    traces  = [otelcol.processor.batch.default.input, otelcol.connector.host_info.default.input]
  }
"""


@pytest.mark.parametrize("processor", sorted(_IN_FRONT))
def test_processor_in_front_of_signal_specific_components_starts_in_every_worker(processor: str) -> None:
    loki = SinkThread(OtlpSink(keep_requests=True)).start()
    tempo = SinkThread(OtlpSink(keep_requests=True)).start()
    prometheus = RemoteWriteSinkThread().start()
    http_port = free_port()
    config = tutorial_config(free_port(), http_port).replace(
        "otelcol.processor.resourcedetection.default.input", f"otelcol.processor.{processor}.front.input")
    config += f'\notelcol.processor.{processor} "front" {{\n  {_IN_FRONT[processor]}\n{_IN_FRONT_OUTPUT}}}\n'
    env = {"LOKI_OTLP_URL": f"{loki.url}/otlp", "TEMPO_OTLP_URL": tempo.url, "PROMETHEUS_URL": prometheus.url,
           "COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1", "COLLECTOR_LOGS_WORKERS": "1"}
    collector = CollectorProcess(config, env=env)
    try:
        collector.start(timeout=30)
        url = f"http://127.0.0.1:{http_port}"
        send_spans("http", url, 5, resource={"service.name": "checkout", "host.name": "h1"})
        send_metrics("http", url, resource={"service.name": "api", "deployment.environment": "prod"})
        assert wait_until(lambda: tempo.sink.items(Signal.TRACES) >= 5)
        assert wait_until(lambda: bool(prometheus.sink.samples("requests_total", deployment_environment="prod")))
        assert collector.stop() == 0
        assert [s.label_map["grafana_host_id"] for s in prometheus.sink.samples("traces_host_info")] == ["h1"]
    finally:
        collector.close()
        for sink in (loki, tempo, prometheus):
            sink.stop()
