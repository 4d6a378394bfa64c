"""API documents and the graph drawing for the tutorial configurations, over a supervisor double."""

from __future__ import annotations

import os
import re
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from collector.signals import Signal
from collector.web import api, rates
from collector.web.observe import Observer
from collector.web.svg import render
from tests.web.fakes import example

OTEL_EDGES = {
    ("otelcol.receiver.otlp.default", "otelcol.processor.resourcedetection.default", "metrics"),
    ("otelcol.receiver.otlp.default", "otelcol.processor.resourcedetection.default", "logs"),
    ("otelcol.receiver.otlp.default", "otelcol.processor.resourcedetection.default", "traces"),
    ("otelcol.processor.resourcedetection.default", "otelcol.processor.transform.promote_resource_attributes",
     "metrics"),
    ("otelcol.processor.resourcedetection.default", "otelcol.processor.batch.default", "logs"),
    ("otelcol.processor.resourcedetection.default", "otelcol.processor.batch.default", "traces"),
    ("otelcol.processor.resourcedetection.default", "otelcol.connector.host_info.default", "traces"),
    ("otelcol.connector.host_info.default", "otelcol.processor.batch.default", "metrics"),
    ("otelcol.processor.transform.promote_resource_attributes", "otelcol.processor.batch.default", "metrics"),
    ("otelcol.processor.batch.default", "otelcol.exporter.prometheus.metrics", "metrics"),
    ("otelcol.processor.batch.default", "otelcol.exporter.otlphttp.logs", "logs"),
    ("otelcol.processor.batch.default", "otelcol.exporter.otlphttp.traces", "traces"),
    ("otelcol.exporter.prometheus.metrics", "prometheus.remote_write.metrics_service", "metrics"),
}
SELF_EDGES = {
    ("prometheus.exporter.self.collector", "discovery.relabel.collector", None),
    ("discovery.relabel.collector", "prometheus.scrape.collector", None),
    ("prometheus.scrape.collector", "prometheus.relabel.collector", "metrics"),
    ("prometheus.relabel.collector", "prometheus.remote_write.metrics_service", "metrics"),
}
ALLOY_FIELDS = {"name", "type", "localID", "moduleID", "label", "referencesTo", "referencedBy", "dataFlowEdgesTo",
                "health", "original", "liveDebuggingEnabled"}


@pytest.mark.parametrize(("config", "count", "edges"), [
    ("opentelemetry.alloy", 9, OTEL_EDGES),
    ("self-monitoring.alloy", 5, SELF_EDGES),
])
def test_components_and_graph_of_the_tutorial_configurations(config: str, count: int, edges: set) -> None:
    sup = example(config)
    observer = Observer(sup, registry=None)  # type: ignore[arg-type]
    docs = api.components(sup, observer)  # type: ignore[arg-type]
    assert len(docs) == count
    for doc in docs:
        assert ALLOY_FIELDS <= set(doc)
        assert doc["type"] == "block" and doc["moduleID"] == ""
        assert doc["localID"] == f"{doc['name']}.{doc['label']}"
        assert set(doc["health"]) >= {"state", "message", "updatedTime"}
        for ids in ("referencesTo", "referencedBy", "dataFlowEdgesTo"):
            assert isinstance(doc[ids], list)
    graph = api.graph(sup, observer, api.LayoutCache())  # type: ignore[arg-type]
    assert {(e["source"], e["target"], e["signal"]) for e in graph["edges"]} == edges
    assert len(graph["nodes"]) == count
    by_id = {d["localID"]: d for d in docs}
    for source, target, _signal in edges:
        assert target in by_id[source]["dataFlowEdgesTo"]


@pytest.mark.parametrize("config", ["opentelemetry.alloy", "self-monitoring.alloy"])
def test_layout_runs_left_to_right_without_overlaps(config: str) -> None:
    sup = example(config)
    graph = api.graph(sup, Observer(sup, registry=None), api.LayoutCache())  # type: ignore[arg-type]
    boxes = {n["id"]: n for n in graph["nodes"]}
    ids = list(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            p, q = boxes[a], boxes[b]
            apart = (p["x"] + p["width"] <= q["x"] or q["x"] + q["width"] <= p["x"]
                     or p["y"] + p["height"] <= q["y"] or q["y"] + q["height"] <= p["y"])
            assert apart, f"{a} overlaps {b}"
        assert 0 <= boxes[a]["x"] and boxes[a]["x"] + boxes[a]["width"] <= graph["width"]
        assert 0 <= boxes[a]["y"] and boxes[a]["y"] + boxes[a]["height"] <= graph["height"]
    for edge in graph["edges"]:
        assert boxes[edge["source"]]["x"] < boxes[edge["target"]]["x"], edge
        start, end = edge["points"][0], edge["points"][-1]
        assert start[0] == boxes[edge["source"]]["x"] + boxes[edge["source"]]["width"]
        assert end[0] == boxes[edge["target"]]["x"]


def test_svg_has_every_node_and_a_label_per_edge_and_signal() -> None:
    sup = example("opentelemetry.alloy")
    svg = render(api.graph(sup, Observer(sup, registry=None), api.LayoutCache()))  # type: ignore[arg-type]
    assert set(re.findall(r'<a class="node" href="/component/[^"]+" data-id="([^"]+)"', svg)) == set(sup.pipeline.nodes)
    labels = set(re.findall(r'data-edge="([^|]+)\|([^|]+)\|([^"]+)"', svg))
    assert labels == OTEL_EDGES
    assert "traces —" in svg  # no counters yet: no rate, and no made-up zero


def test_rates_and_derived_health_reach_the_documents() -> None:
    sup = example("opentelemetry.alloy")
    exporter = "otelcol.exporter.otlphttp.traces"
    sup.health = {exporter: {"state": "healthy", "message": "started component", "updated": 1.0}}
    observer = Observer(sup, registry=None)  # type: ignore[arg-type]
    batch = "otelcol.processor.batch.default"
    observer.observe(100.0, {(batch, "out", "traces"): 0.0, (exporter, "sent", "traces"): 0.0,
                             (exporter, "failed", "traces"): 0.0})
    observer.observe(105.0, {(batch, "out", "traces"): 50.0, (exporter, "sent", "traces"): 0.0,
                             (exporter, "failed", "traces"): 50.0})
    detail = api.component_detail(sup, observer, exporter)  # type: ignore[arg-type]
    assert detail is not None
    assert detail["health"]["state"] == "unhealthy" and detail["health"]["derived"] is True
    assert detail["counters"]["failed"] == 50.0 and detail["counters"]["sent"] == 0.0
    assert detail["recentErrors"] and "failed to send" in detail["recentErrors"][0]["message"]
    flows = api.live_flows(sup, observer)  # type: ignore[arg-type]
    assert {"componentID": batch, "type": "otel_trace", "targetComponentIDs": [exporter], "rate": 10.0} in flows
    edge = next(e for e in detail["edges"] if e["target"] == exporter)
    assert edge["rate"] == 10.0 and edge["type"] == "otel_trace"
    observer.observe(110.0, {(batch, "out", "traces"): 50.0, (exporter, "sent", "traces"): 50.0,
                             (exporter, "failed", "traces"): 50.0})
    health = api.component_detail(sup, observer, exporter)["health"]  # type: ignore[index]
    assert health["state"] == "healthy"
    assert api.component_detail(sup, observer, "nope.nope") is None  # type: ignore[arg-type]


def test_exporter_with_items_waiting_and_nothing_sent_is_unhealthy() -> None:
    """A backend that is down keeps batches in retry for minutes before they count as failed."""
    sup = example("opentelemetry.alloy")
    exporter = "otelcol.exporter.otlphttp.logs"
    sup.health = {exporter: {"state": "healthy", "message": "started component", "updated": 1.0}}
    observer = Observer(sup, registry=None, window=10.0)  # type: ignore[arg-type]
    batch = "otelcol.processor.batch.default"
    observer.observe(100.0, {(batch, "out", "logs"): 0.0})
    observer.observe(105.0, {(batch, "out", "logs"): 30.0})
    assert observer.health()[exporter]["state"] == "healthy"  # not a full window yet
    observer.observe(110.0, {(batch, "out", "logs"): 30.0})
    health = observer.health()[exporter]
    assert health["state"] == "unhealthy" and "30 items waiting" in health["message"]
    observer.observe(115.0, {(batch, "out", "logs"): 30.0, (exporter, "sent", "logs"): 30.0})
    assert observer.health()[exporter]["state"] == "healthy"


def test_exporter_detail_lists_its_sending_queue() -> None:
    sup = example("opentelemetry.alloy")
    exporter = "otelcol.exporter.otlphttp.traces"
    observer = Observer(sup, registry=None)  # type: ignore[arg-type]
    labels = {"component_id": exporter, "component_path": "/", "storage": "disk"}
    samples = [("collector_exporter_queue_requests", labels, 3.0), ("collector_exporter_queue_items", labels, 30.0),
               ("collector_exporter_queue_bytes", labels, 2048.0),
               ("collector_exporter_queue_file_bytes", labels, 4096.0),
               ("collector_exporter_queue_capacity_bytes", labels, 8192.0),
               ("collector_exporter_queue_oldest_age_seconds", labels, 42.5),
               ("collector_exporter_queue_capacity", {**labels, "sizer": "requests"}, 100.0)]
    observer.observe(100.0, rates.counters_from_samples(samples))
    detail = api.component_detail(sup, observer, exporter)  # type: ignore[arg-type]
    assert detail is not None
    assert detail["sendingQueue"] == {
        "storage": "disk", "sizer": "requests", "requests": 3.0, "items": 30.0, "bytes": 2048.0, "fileBytes": 4096.0,
        "capacity": 100.0, "capacityBytes": 8192.0, "fill": 0.03, "bytesFill": 0.25, "oldestAgeSeconds": 42.5}
    batch = api.component_detail(sup, observer, "otelcol.processor.batch.default")  # type: ignore[arg-type]
    assert batch is not None and batch["sendingQueue"] is None


def test_process_rows_list_the_adopted_rings_of_their_worker() -> None:
    sup = example("opentelemetry.alloy")
    process = SimpleNamespace(pid=4242, returncode=None)

    def child(role: str, signal: str, index: int) -> SimpleNamespace:
        return SimpleNamespace(spec=SimpleNamespace(role=role, signal=signal, index=index), process=process,
                               ready=True, started_at=1.0, restarts=0)

    sup.children = {"worker traces/0": child("worker", "traces", 0), "worker logs/0": child("worker", "logs", 0),
                    "receiver/0": child("receiver", "", 0)}
    ring = SimpleNamespace(used_bytes=lambda: 1500)
    sup.adopted_rings = [SimpleNamespace(ring_name="collector-old-r0-traces-w0", records=12, ring=ring,  # type: ignore[attr-defined]
                                         signal=Signal.TRACES, worker=0)]
    observer = Observer(sup, registry=None)  # type: ignore[arg-type]
    rows = {row["key"]: row for row in api.processes(sup, observer)}  # type: ignore[arg-type]
    assert rows["worker traces/0"]["adoptedRings"] == [
        {"name": "collector-old-r0-traces-w0", "records": 12, "usedBytes": 1500}]
    assert rows["worker logs/0"]["adoptedRings"] == [] and rows["receiver/0"]["adoptedRings"] == []


def test_process_table_is_sampled_only_once_someone_reads_it() -> None:
    sup = example("opentelemetry.alloy")
    sup.children = {}
    observer = Observer(sup, registry=CollectorRegistry())  # type: ignore[arg-type]
    observer.tick()
    assert observer.memory == {} and observer.rss == {}  # nobody looked: /proc is not read
    rows = api.processes(sup, observer)  # type: ignore[arg-type]
    assert rows[0]["memory"]["pssBytes"] > 0 and rows[0]["rssBytes"] > 0  # the first look samples at once
    observer.tick()
    assert observer.cpu.get(os.getpid()) is not None  # and the ticks that follow keep it current
