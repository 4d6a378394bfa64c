"""The UI API of a running collector: tutorial configurations, health of an exporter whose backend is
down, processes, reload status and the pages themselves."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from collector.signals import Signal
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from collector.testing.sink import SinkThread
from tests.web.conftest import EXAMPLES, backends_down
from tests.web.test_api import OTEL_EDGES, SELF_EDGES


def get_json(proc: CollectorProcess, path: str) -> Any:
    status, body = proc.get(path)
    assert status == 200, body
    return json.loads(body)


@pytest.mark.parametrize(("fixture", "count", "edges"), [
    ("otel_collector", 9, OTEL_EDGES),
    ("self_monitoring_collector", 5, SELF_EDGES),
])
def test_components_and_edges(request: pytest.FixtureRequest, fixture: str, count: int, edges: set) -> None:
    proc: CollectorProcess = request.getfixturevalue(fixture)
    components = get_json(proc, "/api/v0/web/components")
    assert len(components) == count
    for doc in components:
        detail = get_json(proc, f"/api/v0/web/components/{doc['localID']}")
        assert detail["localID"] == doc["localID"]
        assert isinstance(detail["arguments"], list)
    graph = get_json(proc, "/api/v0/web/graph-layout")
    assert {(e["source"], e["target"], e["signal"]) for e in graph["edges"]} == edges
    assert len(graph["nodes"]) == count
    status, _ = proc.get("/api/v0/web/components/otelcol.receiver.otlp.nope")
    assert status == 404


def test_components_run_by_processes_report_health(otel_collector: CollectorProcess) -> None:
    def reported() -> bool:
        docs = get_json(otel_collector, "/api/v0/web/components")
        return all(d["health"]["state"] != "unknown" for d in docs)

    assert wait_until(reported, timeout=30), get_json(otel_collector, "/api/v0/web/components")
    receiver = get_json(otel_collector, "/api/v0/web/components/otelcol.receiver.otlp.default")
    assert receiver["health"]["state"] == "healthy" and receiver["health"]["updatedTime"] != "0001-01-01T00:00:00Z"


def test_live_graph_stream_is_alloy_shaped(otel_collector: CollectorProcess) -> None:
    status, body = otel_collector.get("/api/v0/web/graph?window=0")
    assert status == 400 and body == "Invalid window: must be an integer between 1 and 60"
    with socket.create_connection(("127.0.0.1", otel_collector.admin_port), timeout=10) as sock:
        sock.sendall(b"GET /api/v0/web/graph?window=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # a name of the server
        data = b""
        while data.count(b"|;|") < 2:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    first = data.split(b"\r\n\r\n", 1)[1].split(b"|;|")[0]
    records = json.loads(first[first.index(b"["):])  # skip the chunk-size line
    for record in records:
        assert set(record) == {"componentID", "type", "targetComponentIDs", "rate"}
        assert record["type"] in {"otel_metric", "otel_log", "otel_trace", "prometheus_metric"}


def test_processes_and_pages(otel_collector: CollectorProcess) -> None:
    rows = get_json(otel_collector, "/api/v0/web/processes")
    keys = [r["key"] for r in rows]
    assert keys[0] == "supervisor"
    assert {"receiver/0", "worker traces/0", "worker metrics/0", "worker logs/0"} <= set(keys)
    assert set(otel_collector.children()) <= set(keys)
    for row in rows:
        assert row["pid"] and row["running"] and row["rssBytes"] is None or row["rssBytes"] > 0
    worker = next(r for r in rows if r["key"] == "worker traces/0")
    assert worker["rings"] and all(r["signal"] == "traces" for r in worker["rings"])
    assert 0.0 <= worker["ringFill"] <= 1.0
    assert worker["adoptedRings"] == []  # a fresh storage path: nothing left by a previous run
    for page in ("/", "/graph", "/processes", "/component/otelcol.processor.batch.default"):
        status, body = otel_collector.get(page)
        assert status == 200 and '<script src="/static/app.js">' in body
    for asset in ("/static/app.js", "/static/style.css"):
        assert otel_collector.get(asset)[0] == 200
    assert otel_collector.get("/static/../server.py")[0] == 404
    status, svg = otel_collector.get("/api/v0/web/graph.svg")
    assert status == 200 and svg.startswith("<svg") and svg.count('class="node"') == 9


def test_reload_result_is_shown(self_monitoring_collector: CollectorProcess) -> None:
    assert get_json(self_monitoring_collector, "/api/v0/web/status")["lastReload"] is None
    good = self_monitoring_collector.config_path.read_text()
    self_monitoring_collector.config_path.write_text(good + "\nthis is not alloy\n")
    try:
        import urllib.request

        request = urllib.request.Request(self_monitoring_collector.admin_url + "/-/reload", method="POST")
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=30)
        assert failure.value.code == 400
        last = get_json(self_monitoring_collector, "/api/v0/web/status")["lastReload"]
        assert last["ok"] is False and last["message"] and last["time"].endswith("Z")
    finally:
        self_monitoring_collector.config_path.write_text(good)
    assert len(get_json(self_monitoring_collector, "/api/v0/web/components")) == 5  # the old graph still runs


HEALTH_CONFIG = """
otelcol.receiver.otlp "default" {
  http {
    endpoint = "127.0.0.1:%(otlp)d"
  }
  output {
    traces = [otelcol.exporter.otlphttp.backend.input]
  }
}

otelcol.exporter.otlphttp "backend" {
  client {
    endpoint = "%(backend)s"
  }
  retry_on_failure {
    initial_interval = "200ms"
    max_interval     = "500ms"
  }
}
"""
EXPORTER = "otelcol.exporter.otlphttp.backend"


def test_exporter_health_follows_its_backend() -> None:
    otlp = free_port()
    with SinkThread() as sink:
        sink.sink.fail(503)  # the backend is down from the start
        config = HEALTH_CONFIG % {"otlp": otlp, "backend": sink.url}
        with CollectorProcess(config, shutdown_timeout="2s") as proc:
            def health() -> dict[str, Any]:
                return get_json(proc, f"/api/v0/web/components/{EXPORTER}")["health"]

            assert wait_until(lambda: health()["state"] == "healthy", timeout=30), health()
            send_spans("http", f"http://127.0.0.1:{otlp}", 20)
            assert wait_until(lambda: health()["state"] == "unhealthy", timeout=60), health()
            down = health()
            assert down["derived"] is True and "none sent" in down["message"]
            detail = get_json(proc, f"/api/v0/web/components/{EXPORTER}")
            assert detail["recentErrors"] and detail["recentErrors"][0]["message"] == down["message"]

            sink.sink.recover()
            assert wait_until(lambda: health()["state"] == "healthy", timeout=60), health()
            assert sink.sink.items(Signal.TRACES) == 20
            assert get_json(proc, f"/api/v0/web/components/{EXPORTER}")["counters"]["sent"] == 20


def test_every_processor_and_connector_reports_items_in_and_out_under_load() -> None:
    """The tutorial gateway under a small load of every signal: the components view shows a number
    (not "—") for items in and out of each processor and connector."""
    grpc_port, http_port = free_port(), free_port()
    text = (EXAMPLES / "opentelemetry.alloy").read_text().replace(
        "127.0.0.1:4317", f"127.0.0.1:{grpc_port}").replace("127.0.0.1:4318", f"127.0.0.1:{http_port}")
    endpoint = f"http://127.0.0.1:{http_port}"
    with CollectorProcess(text, env=backends_down(), shutdown_timeout="2s") as proc:
        def rates() -> dict[str, dict[str, float | None]]:
            docs = get_json(proc, "/api/v0/web/components")
            return {d["localID"]: d["itemsPerSecond"] for d in docs
                    if d["kind"] in ("processor", "connector")}

        def all_numeric() -> bool:
            send_spans("http", endpoint, 20)
            send_logs("http", endpoint, 20)
            send_metrics("http", endpoint)
            return all(r["in"] is not None and r["out"] is not None for r in rates().values())

        assert wait_until(all_numeric, timeout=90, interval=0.5), rates()
        seen = rates()
    assert {"otelcol.processor.resourcedetection.default", "otelcol.processor.transform.promote_resource_attributes",
            "otelcol.processor.batch.default", "otelcol.connector.host_info.default"} <= set(seen)
