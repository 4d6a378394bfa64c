"""OpenTelemetry Collector YAML configurations (tests/configs/otelcol/*.yaml) run end to end.

Each configuration runs twice: as the YAML itself (`collector run config.yaml`) and as what
`collector convert --source-format=otelcol` makes of it (after `collector validate` accepts that),
with the same checks: the real OpenTelemetry Python SDK sends, backend doubles (OTLP/HTTP sinks, a
gRPC sink) or a real Prometheus (and node exporter) receive, and the test checks the items that
arrive and their attributes or series labels. `@NAME@` tokens in the YAML are filled in with free
ports and backend URLs; no port is hard-coded.
"""

from __future__ import annotations

import re
import socket
import threading
from concurrent import futures
from pathlib import Path
from typing import Any, Iterator, Mapping

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.cli import main
from collector.signals import Signal
from collector.testing.process import CollectorProcess, free_port
from collector.testing.prometheus import NodeExporter, PrometheusServer, node_exporter_binary, prometheus_binary
from collector.testing.prometheus import wait_until as wait_for
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "otelcol"
MODES = ["yaml", "converted"]
HOST = socket.gethostname()

pytestmark = pytest.mark.timeout(180)


# -- running a configuration in either form ---------------------------------------------------------
def flat(text: str) -> str:
    """Alloy text with every run of whitespace one space (`fmt` aligns with tabs and spaces)."""
    return re.sub(r"\s+", " ", text)


def render(name: str, values: Mapping[str, object]) -> str:
    text = (CONFIGS / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    assert "@" not in "".join(line.partition("#")[0] for line in text.splitlines()), f"unfilled token in {name}"
    return text


def start(tmp_path: Path, name: str, mode: str, values: Mapping[str, object], monkeypatch: pytest.MonkeyPatch,
          env: dict[str, str] | None = None) -> tuple[CollectorProcess, str]:
    """Start the collector on the YAML, or on its conversion; returns (process, converted text or "")."""
    text = render(name, values)
    if mode == "yaml":
        return CollectorProcess(text, env=env, config_name="config.yaml").start(), ""
    source = tmp_path / "config.yaml"
    source.write_text(text)
    out = tmp_path / "converted.alloy"
    with monkeypatch.context() as patch:  # env substitution happens at conversion time
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        assert main(["convert", "--source-format=otelcol", str(source), "-o", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    converted = out.read_text()
    return CollectorProcess(converted).start(), converted


@pytest.fixture
def sinks() -> Iterator[list[SinkThread]]:
    started: list[SinkThread] = []
    yield started
    for sink in started:
        sink.stop()


def new_sink(sinks: list[SinkThread]) -> SinkThread:
    sink = SinkThread(OtlpSink(keep_requests=True)).start()
    sinks.append(sink)
    return sink


# -- reading what arrived --------------------------------------------------------------------------
def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs}


def spans(requests: list[Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(resource attributes, span name, span attributes) of every span."""
    return [(attrs(rs.resource.attributes), span.name, attrs(span.attributes))
            for req in requests for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans]


def logs(requests: list[Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    return [(attrs(rl.resource.attributes), record.body.string_value, attrs(record.attributes))
            for req in requests for rl in req.resource_logs for sl in rl.scope_logs for record in sl.log_records]


def metric_points(requests: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Metric name -> attributes of each of its data points (with the resource's under "resource")."""
    out: dict[str, list[dict[str, Any]]] = {}
    for req in requests:
        for rm in req.resource_metrics:
            resource = attrs(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    data = getattr(metric, metric.WhichOneof("data"))
                    for point in data.data_points:
                        out.setdefault(metric.name, []).append({"resource": resource, **attrs(point.attributes)})
    return out


def send_spans_and_logs(port: int, sink: SinkThread, span_count: int, log_count: int, *, service: str,
                        attributes: Mapping[str, Any] | None = None) -> None:
    """Spans and log records of one service over OTLP/HTTP, then wait until the sink has them all."""
    url = f"http://127.0.0.1:{port}"
    send_spans("http", url, span_count, resource={"service.name": service}, attributes=attributes)
    send_logs("http", url, log_count, resource={"service.name": service})
    delivered(sink, Signal.TRACES, span_count)
    delivered(sink, Signal.LOGS, log_count)


def delivered(sink: SinkThread, signal: Signal, count: int, timeout: float = 30.0) -> None:
    assert wait_until(lambda: sink.sink.items(signal) >= count, timeout), \
        f"{signal.value}: {sink.sink.items(signal)} of {count} arrived"


class GrpcSink:
    """An OTLP/gRPC backend double (traces and logs) keeping every request."""

    def __init__(self) -> None:
        self.received: dict[Signal, list[Any]] = {Signal.TRACES: [], Signal.LOGS: []}
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        sink = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method name)
                sink.keep(Signal.TRACES, request)
                return trace_service_pb2.ExportTraceServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
                sink.keep(Signal.LOGS, request)
                return logs_service_pb2.ExportLogsServiceResponse()

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def keep(self, signal: Signal, request: Any) -> None:
        with self.lock:
            self.received[signal].append(request)

    def requests(self, signal: Signal) -> list[Any]:
        with self.lock:
            return list(self.received[signal])

    def stop(self) -> None:
        self.server.stop(0)


# -- real Prometheus and node exporter, one each per module ----------------------------------------
def _require(binary: str | None, package: str) -> str:
    if binary is None:
        pytest.skip(f"!!! NOT TESTED: the {package} binary is missing (scripts/install-system-deps.sh) !!!")
    return binary


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("prom") / "prometheus",
                              binary=_require(prometheus_binary(), "prometheus"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeExporter]:
    exporter = NodeExporter(tmp_path_factory.mktemp("node"), binary=_require(node_exporter_binary(),
                                                                             "prometheus-node-exporter"))
    try:
        yield exporter.start()
    finally:
        exporter.stop()


# -- (a) OTLP -> batch -> otlphttp, three signals ----------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_a_gateway(mode: str, tmp_path: Path, sinks: list[SinkThread], monkeypatch: pytest.MonkeyPatch) -> None:
    sink = new_sink(sinks)
    grpc_port, http_port = free_port(), free_port()
    collector, converted = start(tmp_path, "a-gateway.yaml", mode,
                                 {"GRPC_PORT": grpc_port, "HTTP_PORT": http_port, "SINK_URL": sink.url}, monkeypatch)
    with collector:
        if converted:
            assert 'otelcol.processor.batch "default_traces"' in converted
        send_spans("grpc", f"127.0.0.1:{grpc_port}", 4, resource={"service.name": "gw"}, name="via-grpc")
        send_spans("http", f"http://127.0.0.1:{http_port}", 3, resource={"service.name": "gw"}, name="via-http")
        send_logs("http", f"http://127.0.0.1:{http_port}", 5, resource={"service.name": "gw"},
                  attributes={"mode": mode})
        send_metrics("grpc", f"127.0.0.1:{grpc_port}", resource={"service.name": "gw"}, attributes={"mode": mode})
        delivered(sink, Signal.TRACES, 7)
        delivered(sink, Signal.LOGS, 5)
        delivered(sink, Signal.METRICS, 4)
    received = sink.sink.received
    got = spans(received[Signal.TRACES])
    assert sorted((name, a["i"]) for _, name, a in got) == \
        sorted([("via-grpc", i) for i in range(4)] + [("via-http", i) for i in range(3)])
    assert all(r["service.name"] == "gw" for r, _, _ in got)
    records = logs(received[Signal.LOGS])
    assert sorted(body for _, body, _ in records) == [f"line {i}" for i in range(5)]
    assert all(a["mode"] == mode for _, _, a in records)
    points = metric_points(received[Signal.METRICS])
    assert set(points) == {"requests", "queue_depth", "latency", "temperature"}
    assert all(p["mode"] == mode and p["resource"]["service.name"] == "gw" for ps in points.values() for p in ps)
    assert all(h.get("Content-Encoding") == "gzip" for h in sink.sink.headers)
    assert sink.sink.items(Signal.TRACES) == 7 and sink.sink.items(Signal.LOGS) == 5


# -- (b) memory_limiter + batch, fanned out to otlphttp, otlp (gRPC) and debug -------------------
@pytest.mark.parametrize("mode", MODES)
def test_b_memory_limiter_fanout(mode: str, tmp_path: Path, sinks: list[SinkThread],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    http_sink = new_sink(sinks)
    grpc_sink = GrpcSink()
    try:
        http_port = free_port()
        values = {"HTTP_PORT": http_port, "SINK_URL": http_sink.url, "GRPC_SINK_PORT": grpc_sink.port}
        collector, converted = start(tmp_path, "b-memory-limiter-fanout.yaml", mode, values, monkeypatch)
        with collector:
            if converted:
                assert 'limit = "512MiB"' in flat(converted) and 'spike_limit = "128MiB"' in flat(converted)
            send_spans_and_logs(http_port, http_sink, 6, 4, service="fan", attributes={"mode": mode})
            assert wait_until(lambda: len(spans(grpc_sink.requests(Signal.TRACES))) >= 6
                              and len(logs(grpc_sink.requests(Signal.LOGS))) >= 4, 30)
            # the debug exporter of the traces pipeline logs what it sees (verbosity basic: counts)
            assert wait_until(lambda: "spans" in collector.logs().lower(), 10), collector.logs()
        for requests in (http_sink.sink.received[Signal.TRACES], grpc_sink.requests(Signal.TRACES)):
            got = spans(requests)
            assert sorted(a["i"] for _, _, a in got) == list(range(6))
            assert all(a["mode"] == mode and r["service.name"] == "fan" for r, _, a in got)
        for requests in (http_sink.sink.received[Signal.LOGS], grpc_sink.requests(Signal.LOGS)):
            assert sorted(body for _, body, _ in logs(requests)) == [f"line {i}" for i in range(4)]
    finally:
        grpc_sink.stop()


# -- (c) the tutorial pipeline: resourcedetection, transform, batch, remote write to Prometheus ------
@pytest.mark.parametrize("mode", MODES)
def test_c_tutorial(mode: str, tmp_path: Path, sinks: list[SinkThread], prometheus: PrometheusServer,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    loki, tempo = new_sink(sinks), new_sink(sinks)
    grpc_port, http_port = free_port(), free_port()
    values = {"GRPC_PORT": grpc_port, "HTTP_PORT": http_port, "PROMETHEUS_WRITE_URL": prometheus.write_url,
              "LOKI_URL": loki.url, "TEMPO_URL": tempo.url}
    service = f"shop-{mode}"
    resource = {"service.name": service, "service.instance.id": "pod-1", "deployment.environment": "prod",
                "service.version": "1.2.3", "host.name": "app-host"}
    collector, _ = start(tmp_path, "c-tutorial.yaml", mode, values, monkeypatch)
    with collector:
        send_metrics("http", f"http://127.0.0.1:{http_port}", resource=resource, attributes={"route": "/buy"})
        send_spans("grpc", f"127.0.0.1:{grpc_port}", 3, resource=resource)
        send_logs("http", f"http://127.0.0.1:{http_port}", 2, resource=resource)
        series = f'job="{service}", instance="pod-1"'
        found = wait_for(lambda: prometheus.query(f"requests_total{{{series}}}"), 60, "requests_total")
        delivered(tempo, Signal.TRACES, 3)
        delivered(loki, Signal.LOGS, 2)
    labels = found[0]["metric"]
    assert float(found[0]["value"][1]) == 5
    # transform promoted the two resource attributes onto the data point: they are labels now
    assert labels["deployment_environment"] == "prod" and labels["service_version"] == "1.2.3"
    assert labels["route"] == "/buy"
    gauge = wait_for(lambda: prometheus.query(f"temperature_celsius{{{series}}}"), 30, "temperature_celsius")
    assert len(gauge) == 1 and float(gauge[0]["value"][1]) == 2.5
    # resourcedetection (system, override on) replaced host.name; target_info carries it
    info = wait_for(lambda: prometheus.query(f"target_info{{{series}}}"), 30, "target_info")
    assert info[0]["metric"]["host_name"] == HOST and info[0]["metric"]["os_type"] == "linux"
    # traces and logs went to their own sinks, with the detected host
    got = spans(tempo.sink.received[Signal.TRACES])
    assert sorted(a["i"] for _, _, a in got) == [0, 1, 2]
    assert all(r["host.name"] == HOST and r["os.type"] == "linux" and r["service.name"] == service for r, _, _ in got)
    records = logs(loki.sink.received[Signal.LOGS])
    assert sorted(body for _, body, _ in records) == ["line 0", "line 1"]
    assert all(r["host.name"] == HOST for r, _, _ in records)
    assert tempo.sink.items(Signal.LOGS) == 0 and loki.sink.items(Signal.TRACES) == 0


# -- (d) prometheus receiver scraping the node exporter, remote-written to Prometheus ----------------
@pytest.mark.parametrize("mode", MODES)
def test_d_node_exporter(mode: str, tmp_path: Path, prometheus: PrometheusServer, node_exporter: NodeExporter,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = f"otelcol-{mode}"  # an external label per run, so the two runs' series are told apart
    values = {"NODE_EXPORTER": node_exporter.address, "PROMETHEUS_WRITE_URL": prometheus.write_url,
              "CLUSTER": cluster}
    collector, _ = start(tmp_path, "d-node-exporter.yaml", mode, values, monkeypatch)
    with collector:
        selector = f'job="node", instance="{node_exporter.address}", env="lab", cluster="{cluster}"'
        load = wait_for(lambda: prometheus.query(f"node_load1{{{selector}}}"), 60, "node_load1")
        assert len(load) == 1
        memory = wait_for(lambda: prometheus.query(f"node_memory_MemTotal_bytes{{{selector}}}"), 30, "memory")
        assert float(memory[0]["value"][1]) > 0
        wait_for(lambda: prometheus.query(f"node_time_seconds{{{selector}}}"), 30, "node_time_seconds")
    # metric_relabel_configs kept exactly three node_* metrics and dropped the rest (uname, stat, ...)
    names = {s["metric"]["__name__"] for s in prometheus.query(f'{{__name__=~"node_.+", {selector}}}')}
    assert names == {"node_load1", "node_memory_MemTotal_bytes", "node_time_seconds"}
    assert all(s["metric"]["job"] == "node" for s in prometheus.query(f'{{cluster="{cluster}"}}'))


# -- (e) two pipelines of one signal, named instances -------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_e_named_pipelines(mode: str, tmp_path: Path, sinks: list[SinkThread],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    sink_a, sink_b = new_sink(sinks), new_sink(sinks)
    grpc_port, http_port = free_port(), free_port()
    values = {"GRPC_PORT": grpc_port, "HTTP_PORT": http_port, "SINK_A_URL": sink_a.url, "SINK_B_URL": sink_b.url}
    collector, converted = start(tmp_path, "e-named-pipelines.yaml", mode, values, monkeypatch)
    with collector:
        if converted:  # one batch/x per pipeline, one receiver per ID
            for label in ("x_traces_a", "x_traces_b"):
                assert f'otelcol.processor.batch "{label}"' in converted
            assert 'otelcol.receiver.otlp "b"' in converted and 'otelcol.exporter.otlphttp "a"' in converted
        send_spans("http", f"http://127.0.0.1:{http_port}", 3, name="to-both")  # otlp: traces/a and traces/b
        send_spans("grpc", f"127.0.0.1:{grpc_port}", 2, name="to-b")  # otlp/b: traces/b only
        delivered(sink_a, Signal.TRACES, 3)
        delivered(sink_b, Signal.TRACES, 5)
    got_a = spans(sink_a.sink.received[Signal.TRACES])
    got_b = spans(sink_b.sink.received[Signal.TRACES])
    assert sorted((n, a["i"]) for _, n, a in got_a) == [("to-both", 0), ("to-both", 1), ("to-both", 2)]
    assert all("pipeline" not in a for _, _, a in got_a)  # attributes/tag is in traces/b only
    assert sorted((n, a["i"]) for _, n, a in got_b) == \
        [("to-b", 0), ("to-b", 1), ("to-both", 0), ("to-both", 1), ("to-both", 2)]
    assert all(a["pipeline"] == "b" for _, _, a in got_b)
    assert sink_a.sink.items(Signal.TRACES) == 3 and sink_b.sink.items(Signal.TRACES) == 5


# -- (f) environment substitution --------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_f_env_substitution(mode: str, tmp_path: Path, sinks: list[SinkThread],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    sink = new_sink(sinks)
    http_port = free_port()
    monkeypatch.delenv("BATCH_SIZE", raising=False)
    monkeypatch.delenv("BATCH_TIMEOUT", raising=False)
    monkeypatch.delenv("DEPLOY_ENV", raising=False)
    env = {"OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}", "SINK_URL": sink.url, "REGION": "eu-west",
           "TENANT": "acme"}
    collector, converted = start(tmp_path, "f-env.yaml", mode, {}, monkeypatch, env=env)
    with collector:
        if converted:  # substituted at conversion: the defaults, typed as the OTel Collector types them
            assert "send_batch_size = 100 " in flat(converted) and 'timeout = "200ms"' in flat(converted)
            assert '"X-Tenant" = "tenant-acme"' in flat(converted)
        send_spans_and_logs(http_port, sink, 3, 2, service="env")
    for _, _, a in spans(sink.sink.received[Signal.TRACES]) + logs(sink.sink.received[Signal.LOGS]):
        assert a["deployment.environment"] == "dev"  # ${env:DEPLOY_ENV:-dev}, unset
        assert a["region"] == "eu-west"  # ${REGION}
    assert sink.sink.headers and all(h.get("X-Tenant") == "tenant-acme" for h in sink.sink.headers)
