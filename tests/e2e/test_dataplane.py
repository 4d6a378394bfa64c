"""The multiprocess data plane end to end: `collector run` as a subprocess, real SDK clients, a
counting backend."""

from __future__ import annotations

import gzip
import os
import signal
import threading
import urllib.error
import urllib.request

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.signals import Signal
from collector.testing.configs import otlp_receiver
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from tests.e2e.conftest import Gateway, start_gateway


def _span_request(spans: int, tag: str) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    attr = rs.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", tag
    ss = rs.scope_spans.add()
    for i in range(spans):
        span = ss.spans.add()
        span.trace_id = os.urandom(16)
        span.span_id = os.urandom(8)
        span.name = f"{tag}-{i}"
    return request.SerializeToString()


def _post(url: str, body: bytes, content_type: str = "application/x-protobuf",
          headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method,
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _spans_named(gateway: Gateway) -> list[str]:
    return [span.name for req in gateway.sink.sink.received[Signal.TRACES]
            for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_traces_arrive_exactly_once_with_attributes(gateway: Gateway, protocol: str) -> None:
    endpoint = gateway.grpc_endpoint if protocol == "grpc" else gateway.http_url
    send_spans(protocol, endpoint, 300, resource={"service.name": "checkout", "team": "blue"},  # type: ignore[arg-type]
               attributes={"http.route": "/cart", "retry": True})
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 300)
    requests = gateway.sink.sink.received[Signal.TRACES]
    spans = [(rs, span) for req in requests for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert len(spans) == 300
    assert sorted(dict((a.key, a.value.int_value) for a in span.attributes)["i"] for _, span in spans) == list(range(300))
    rs, span = spans[0]
    resource = {a.key: a.value.string_value for a in rs.resource.attributes}
    assert resource["service.name"] == "checkout" and resource["team"] == "blue"
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["http.route"].string_value == "/cart"
    assert attributes["retry"].bool_value is True
    accepted = gateway.collector.metric_value("otelcol_receiver_accepted_spans_total", transport=protocol)
    assert accepted == 300


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_logs_and_metrics_arrive(gateway: Gateway, protocol: str) -> None:
    endpoint = gateway.grpc_endpoint if protocol == "grpc" else gateway.http_url
    send_logs(protocol, endpoint, 120, attributes={"user": "ada"})  # type: ignore[arg-type]
    send_metrics(protocol, endpoint, attributes={"route": "/"})  # type: ignore[arg-type]
    assert wait_until(lambda: gateway.sink.sink.items(Signal.LOGS) >= 120)
    # counter, up-down counter, histogram and gauge: one point each
    assert wait_until(lambda: gateway.sink.sink.items(Signal.METRICS) >= 4)
    assert gateway.sink.sink.items(Signal.LOGS) == 120
    assert gateway.sink.sink.items(Signal.METRICS) == 4
    bodies = sorted(rec.body.string_value for req in gateway.sink.sink.received[Signal.LOGS]
                    for rl in req.resource_logs for sl in rl.scope_logs for rec in sl.log_records)
    assert bodies == sorted(f"line {i}" for i in range(120))


def test_http_status_codes_of_the_specification(gateway: Gateway) -> None:
    url = gateway.http_url
    assert _post(url + "/v1/traces", _span_request(1, "ok"))[0] == 200
    assert _post(url + "/v1/traces", b"\xff\xff\xff")[0] == 400
    assert _post(url + "/v1/traces", b"{}", content_type="text/plain")[0] == 415
    assert _post(url + "/v1/nothing", _span_request(1, "x"))[0] == 404
    assert _post(url + "/v1/traces", b"", method="GET")[0] == 405
    status, _, _ = _post(url + "/v1/traces", gzip.compress(_span_request(2, "gz")), headers={"Content-Encoding": "gzip"})
    assert status == 200
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 3)


def test_backend_outage_then_recovery_delivers_everything() -> None:
    with start_gateway() as gw:
        gw.sink.sink.fail(503, seconds=2.0, retry_after="0")
        for batch in range(10):
            assert _post(gw.http_url + "/v1/traces", _span_request(50, f"outage{batch}"))[0] == 200
        assert wait_until(lambda: gw.sink.sink.items(Signal.TRACES) >= 500, timeout=60)
        assert sorted(set(_spans_named(gw))) == sorted(f"outage{b}-{i}" for b in range(10) for i in range(50))
        assert gw.sink.sink.stats.refused_requests >= 1
        assert gw.collector.metric_value("otelcol_exporter_send_failed_spans_total") == 0


def test_backend_rejecting_with_400_drops_and_counts_without_retrying() -> None:
    with start_gateway() as gw:
        gw.sink.sink.fail(400)
        assert _post(gw.http_url + "/v1/traces", _span_request(40, "bad"))[0] == 200
        assert wait_until(lambda: gw.collector.metric_value("otelcol_exporter_send_failed_spans_total") >= 40)
        assert gw.sink.sink.stats.refused_requests == 1  # one attempt, no retry storm
        assert gw.sink.sink.items(Signal.TRACES) == 0


def test_full_ring_refuses_with_retryable_status_and_loses_nothing_accepted() -> None:
    with start_gateway(env={"COLLECTOR_RING_BYTES": "1MiB", "COLLECTOR_TRACES_WORKERS": "1"}) as gw:
        gw.sink.sink.fail(503, retry_after="0")  # backend down until we recover it
        payload = _span_request(400, "fill")  # ~20 KiB per request
        accepted, refused = 0, None
        for _ in range(2000):
            status, headers, _ = _post(gw.http_url + "/v1/traces", payload)
            if status == 200:
                accepted += 1
                continue
            refused = (status, headers)
            break
        assert refused is not None, "the ring never filled"
        assert refused[0] in (429, 503)
        assert "Retry-After" in refused[1]
        gw.sink.sink.recover()
        assert wait_until(lambda: gw.sink.sink.items(Signal.TRACES) >= accepted * 400, timeout=120)
        assert gw.sink.sink.items(Signal.TRACES) == accepted * 400  # every accepted request, once


def test_worker_counts_come_from_the_environment() -> None:
    with start_gateway(env={"COLLECTOR_TRACES_WORKERS": "2", "COLLECTOR_LOGS_WORKERS": "1",
                            "COLLECTOR_METRICS_WORKERS": "3"}) as gw:
        titles = set(gw.collector.children())
        assert {"worker traces/0", "worker traces/1", "worker logs/0", "worker metrics/0", "worker metrics/1",
                "worker metrics/2", "receiver/0"} <= titles


def test_invalid_worker_count_is_a_clear_error() -> None:
    import subprocess
    import sys

    from collector.testing.process import CollectorProcess

    proc = CollectorProcess('otelcol.exporter.debug "d" { }\n', env={"COLLECTOR_TRACES_WORKERS": "zero"})
    try:
        result = subprocess.run([sys.executable, "-m", "collector", "run", str(proc.config_path)],
                                env=proc.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert "COLLECTOR_TRACES_WORKERS='zero': expected a positive whole number" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        proc.close()


def test_sigkilled_worker_is_restarted_and_its_records_are_processed() -> None:
    with start_gateway(env={"COLLECTOR_TRACES_WORKERS": "1"}) as gw:
        gw.sink.sink.fail(503, retry_after="0")  # hold data inside the worker
        for batch in range(20):
            assert _post(gw.http_url + "/v1/traces", _span_request(25, f"kill{batch}"))[0] == 200
        victim = gw.collector.children()["worker traces/0"]
        old_pid = victim.pid
        victim.send_signal(signal.SIGKILL)
        assert wait_until(lambda: (w := gw.collector.children().get("worker traces/0")) is not None and w.pid != old_pid,
                          timeout=10)
        gw.sink.sink.recover()
        expected = {f"kill{b}-{i}" for b in range(20) for i in range(25)}
        assert wait_until(lambda: expected <= set(_spans_named(gw)), timeout=60)
        assert gw.collector.metric_value("collector_process_restarts", process="worker traces/0") == 1


def test_sigterm_drains_everything_accepted_and_exits_zero() -> None:
    with start_gateway() as gw:
        gw.sink.sink.fail(503, seconds=1.0, retry_after="0")
        for batch in range(10):
            assert _post(gw.http_url + "/v1/traces", _span_request(30, f"drain{batch}"))[0] == 200
        assert gw.collector.stop() == 0
        assert {f"drain{b}-{i}" for b in range(10) for i in range(30)} <= set(_spans_named(gw))


def test_concurrent_clients_on_both_protocols_lose_nothing(gateway: Gateway) -> None:
    def http_client() -> None:
        send_spans("http", gateway.http_url, 400, resource={"service.name": "h"})

    def grpc_client() -> None:
        send_spans("grpc", gateway.grpc_endpoint, 400, resource={"service.name": "g"})

    threads = [threading.Thread(target=http_client), threading.Thread(target=grpc_client)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 800)
    assert gateway.sink.sink.items(Signal.TRACES) == 800


def debug_metrics_config(http_port: int) -> str:
    """Metrics over OTLP/HTTP to `otelcol.exporter.debug`, which logs each one with its worker."""
    return otlp_receiver(to="otelcol.exporter.debug.d", signals=("metrics",), http_port=http_port) + """
otelcol.exporter.debug "d" {
  verbosity        = "detailed"
  sampling_initial = 100000
}
"""


def test_metrics_of_one_resource_always_reach_the_same_worker() -> None:
    import re

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    from collector.testing.process import CollectorProcess, free_port

    http_port = free_port()
    services = [f"svc-{i}" for i in range(8)]
    with CollectorProcess(debug_metrics_config(http_port),
                          env={"COLLECTOR_METRICS_WORKERS": "2"}) as collector:
        for round_ in range(3):
            request = ExportMetricsServiceRequest()
            for name in services:  # every request mixes all resources
                rm = request.resource_metrics.add()
                attr = rm.resource.attributes.add()
                attr.key, attr.value.string_value = "service.name", name
                point = rm.scope_metrics.add().metrics.add()
                point.name = "m"
                point.gauge.data_points.add().as_int = round_
            assert _post(f"http://127.0.0.1:{http_port}/v1/metrics", request.SerializeToString())[0] == 200

        def seen() -> dict[str, set[str]]:
            owners: dict[str, set[str]] = {}
            for line in collector.logs().splitlines():
                proc = re.search(r'proc="(worker metrics/\d)"', line)
                if proc:
                    for name in re.findall(r"service\.name: Str\((svc-\d)\)", line):
                        owners.setdefault(name, set()).add(proc.group(1))
            return owners

        def all_rounds_logged() -> bool:
            text = collector.logs()
            return all(text.count(f"service.name: Str({name})") >= 3 for name in services)

        assert wait_until(all_rounds_logged)
        owners = seen()
        assert set(owners) == set(services)
        assert all(len(procs) == 1 for procs in owners.values()), owners
        assert {p for procs in owners.values() for p in procs} == {"worker metrics/0", "worker metrics/1"}


def test_two_receiver_processes_share_the_ports() -> None:
    with start_gateway(env={"COLLECTOR_RECEIVER_PROCESSES": "2", "COLLECTOR_TRACES_WORKERS": "2"}) as gw:
        assert {"receiver/0", "receiver/1"} <= set(gw.collector.children())
        for batch in range(30):  # a new connection per request: the kernel spreads them over both
            assert _post(gw.http_url + "/v1/traces", _span_request(10, f"rp{batch}"))[0] == 200
        send_spans("grpc", gw.grpc_endpoint, 100)
        assert wait_until(lambda: gw.sink.sink.items(Signal.TRACES) >= 400)
        assert gw.sink.sink.items(Signal.TRACES) == 400
