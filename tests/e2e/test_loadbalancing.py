"""A two-tier fleet: one first-tier collector with `otelcol.exporter.loadbalancing` in front of
three second-tier collectors (our own, each with its own loopback ports and its own counting sink).

What must hold: every span arrives exactly once, every trace entirely at one sink, the load spread
over all three; `routing_key = "service"` keeps each service on one sink; removing a backend by a
reload moves only its traces and loses nothing sent across the reload; a backend that is down for
10 s gets its share once it is back while the others keep receiving theirs. The machine running
the suite is small, so the second tier runs one worker per signal and the data sets stay small.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterator, Sequence

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator

from collector.signals import Signal
from collector.testing.configs import FAST_RETRY, batch_processor, otlp_pipeline, otlp_receiver
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import wait_until
from collector.testing.sink import OtlpSink, SinkThread

pytestmark = pytest.mark.timeout(600)

SMALL = {"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_LOGS_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1",
         "COLLECTOR_RECEIVER_PROCESSES": "1"}


def second_tier_config(grpc_port: int, sink_url: str) -> str:
    return otlp_pipeline(sink_url=sink_url, grpc_port=grpc_port, retry=FAST_RETRY)


def first_tier_config(http_port: int, resolver: str, routing_key: str = "traceID") -> str:
    pipeline = (otlp_receiver(to="otelcol.processor.batch.b", http_port=http_port)
                + batch_processor(to="otelcol.exporter.loadbalancing.lb"))
    return pipeline + f"""
otelcol.exporter.loadbalancing "lb" {{
  routing_key = "{routing_key}"
  resolver {{
{resolver}
  }}
  protocol {{
    otlp {{
      timeout = "2s"
      client {{
        tls {{
          insecure = true
        }}
      }}
      retry {{
        initial_interval = "200ms"
        max_interval     = "1s"
        max_elapsed_time = "0s"
      }}
    }}
  }}
}}
"""


def static_resolver(endpoints: Sequence[str]) -> str:
    hostnames = ", ".join(f'"{e}"' for e in endpoints)
    return f"    static {{\n      hostnames = [{hostnames}]\n    }}"


@dataclass
class Backend:
    grpc_port: int
    sink: SinkThread
    collector: CollectorProcess

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def spans(self) -> list[tuple[bytes, bytes, str]]:
        """(trace id, span id, service.name) of every span this backend's sink received."""
        out = []
        with self.sink.sink._lock:
            messages = list(self.sink.sink.received[Signal.TRACES])
        for message in messages:
            for rs in message.resource_spans:
                service = next((kv.value.string_value for kv in rs.resource.attributes if kv.key == "service.name"), "")
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append((span.trace_id, span.span_id, service))
        return out

    def count(self) -> int:
        return len(self.spans())

    def clear(self) -> None:
        with self.sink.sink._lock:
            for signal in Signal:
                self.sink.sink.received[signal].clear()


@pytest.fixture(scope="module")
def second_tier() -> Iterator[list[Backend]]:
    backends: list[Backend] = []
    try:
        for _ in range(3):
            sink = SinkThread(OtlpSink(keep_requests=True)).start()
            port = free_port()
            collector = CollectorProcess(second_tier_config(port, sink.url), env=SMALL)
            backends.append(Backend(port, sink, collector))
            collector.start()
        yield backends
    finally:
        for backend in backends:
            backend.collector.close()
            backend.sink.stop()


@pytest.fixture
def fleet(second_tier: list[Backend]) -> Iterator[list[Backend]]:
    for backend in second_tier:
        backend.clear()
    yield second_tier


class FixedTraceIds(IdGenerator):
    """Trace ids from a list (each used `spans_per_trace` times in a row), random span ids."""

    def __init__(self, trace_ids: Sequence[int]) -> None:
        self._trace_ids = iter(trace_ids)

    def generate_span_id(self) -> int:
        return random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return next(self._trace_ids)


def send_traces(http_port: int, trace_ids: Sequence[int], *, spans_per_trace: int, services: int) -> None:
    """`len(trace_ids)` traces of `spans_per_trace` spans (a root and its children) with the real
    OpenTelemetry SDK over OTLP/HTTP; trace i belongs to service `svc-{i % services}`."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    by_service: dict[int, list[int]] = defaultdict(list)
    for i, trace_id in enumerate(trace_ids):
        by_service[i % services].append(trace_id)
    for index, ids in by_service.items():
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{http_port}/v1/traces")
        provider = TracerProvider(resource=Resource.create({"service.name": f"svc-{index}"}),
                                  id_generator=FixedTraceIds(ids))
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=100_000, max_export_batch_size=512,
                                                       schedule_delay_millis=50))
        tracer = provider.get_tracer("loadbalancing-test")
        for _ in ids:
            with tracer.start_as_current_span("root"):
                for child in range(spans_per_trace - 1):
                    with tracer.start_as_current_span(f"child-{child}"):
                        pass
        provider.force_flush()
        provider.shutdown()


def new_trace_ids(count: int) -> list[int]:
    return [random.getrandbits(128) | 1 for _ in range(count)]


def first_tier(resolver: str, routing_key: str = "traceID") -> tuple[CollectorProcess, int]:
    port = free_port()
    return CollectorProcess(first_tier_config(port, resolver, routing_key), env=SMALL), port


def total_spans(backends: Sequence[Backend]) -> int:
    return sum(b.count() for b in backends)


def sinks_by_trace(backends: Sequence[Backend]) -> dict[bytes, set[int]]:
    where: dict[bytes, set[int]] = defaultdict(set)
    for index, backend in enumerate(backends):
        for trace_id, _, _ in backend.spans():
            where[trace_id].add(index)
    return where


def listed(collector: CollectorProcess) -> list[str]:
    """The backends the web API's component detail lists for the load balancer."""
    status, body = collector.get("/api/v0/web/components/otelcol.exporter.loadbalancing.lb")
    assert status == 200
    return [b["endpoint"] for b in json.loads(body).get("backends", [])]


def reload(collector: CollectorProcess, config: str) -> None:
    collector.config_path.write_text(config)
    assert collector.reload()[0] == 200


def test_traces_by_trace_id_arrive_once_each_trace_at_one_sink(fleet: list[Backend]) -> None:
    collector, port = first_tier(static_resolver([b.endpoint for b in fleet]))
    with collector:
        trace_ids = new_trace_ids(2_000)
        send_traces(port, trace_ids, spans_per_trace=10, services=5)
        assert wait_until(lambda: total_spans(fleet) >= 20_000, timeout=180), total_spans(fleet)
        time.sleep(0.5)  # a late duplicate would show now (no timing assertion: the count below must be exact)
        spans = [span for backend in fleet for span in backend.spans()]
        assert len(spans) == 20_000
        assert len({span_id for _, span_id, _ in spans}) == 20_000  # each span exactly once
        where = sinks_by_trace(fleet)
        assert len(where) == 2_000
        assert all(len(sinks) == 1 for sinks in where.values())  # every trace entirely at one sink
        per_sink = Counter(next(iter(sinks)) for sinks in where.values())
        for index in range(3):
            assert 0.20 <= per_sink[index] / 2_000 <= 0.47, per_sink
        for backend in fleet:  # self-metrics: items per backend add up to what the sinks got
            routed = collector.metric_value("collector_loadbalancer_backend_items_total", endpoint=backend.endpoint)
            assert routed == backend.count()
        assert collector.metric_value("otelcol_loadbalancer_num_backends") == 3
        # the UI's component detail lists the backends in the ring
        assert wait_until(lambda: listed(collector) == sorted(b.endpoint for b in fleet), timeout=30), listed(collector)


def test_service_routing_keeps_each_service_at_one_sink(fleet: list[Backend]) -> None:
    collector, port = first_tier(static_resolver([b.endpoint for b in fleet]), routing_key="service")
    with collector:
        send_traces(port, new_trace_ids(300), spans_per_trace=4, services=12)
        assert wait_until(lambda: total_spans(fleet) >= 1_200, timeout=120)
        services: dict[str, set[int]] = defaultdict(set)
        for index, backend in enumerate(fleet):
            for _, _, service in backend.spans():
                services[service].add(index)
        assert len(services) == 12
        assert all(len(sinks) == 1 for sinks in services.values()), services
        assert len({next(iter(s)) for s in services.values()}) > 1  # services do spread over the backends


def test_removing_a_backend_by_reload_moves_only_its_traces(fleet: list[Backend]) -> None:
    endpoints = [b.endpoint for b in fleet]
    collector, port = first_tier(static_resolver(endpoints))
    with collector:
        probe = new_trace_ids(600)
        send_traces(port, probe, spans_per_trace=2, services=3)
        assert wait_until(lambda: total_spans(fleet) >= 1_200, timeout=120)
        before = {trace_id: next(iter(sinks)) for trace_id, sinks in sinks_by_trace(fleet).items()}
        for backend in fleet:
            backend.clear()

        # traffic keeps flowing while the configuration changes under it
        during = new_trace_ids(400)
        sender = threading.Thread(target=send_traces, args=(port, during), kwargs={"spans_per_trace": 2, "services": 2})
        sender.start()
        reload(collector, first_tier_config(port, static_resolver(endpoints[:2])))
        sender.join()
        send_traces(port, probe, spans_per_trace=2, services=3)  # the same trace ids again
        assert wait_until(lambda: total_spans(fleet) >= 2_000, timeout=120), total_spans(fleet)
        time.sleep(0.5)
        spans = [span for backend in fleet for span in backend.spans()]
        got = Counter(trace_id for trace_id, _, _ in spans)
        for trace_id in during:  # nothing sent across the reload is lost
            assert got[trace_id.to_bytes(16, "big")] >= 2
        after: dict[bytes, int] = {}
        for index, backend in enumerate(fleet):
            for trace_id, _, _ in backend.spans():
                after.setdefault(trace_id, index)
        probe_bytes = [t.to_bytes(16, "big") for t in probe]
        assert all(after[t] in (0, 1) for t in probe_bytes)  # the removed backend gets nothing new
        kept = sum(1 for t in probe_bytes if after[t] == before[t])
        moved_from_others = sum(1 for t in probe_bytes if before[t] != 2 and after[t] != before[t])
        assert kept / len(probe_bytes) >= 0.60
        assert moved_from_others == 0  # only the removed backend's traces moved
        assert wait_until(lambda: listed(collector) == sorted(endpoints[:2]), timeout=30), listed(collector)


def test_backend_down_for_ten_seconds_gets_its_share_after_it_comes_back(fleet: list[Backend]) -> None:
    collector, port = first_tier(static_resolver([b.endpoint for b in fleet]))
    down = fleet[2]
    with collector:
        down.collector.stop()
        try:
            trace_ids = new_trace_ids(500)
            send_traces(port, trace_ids, spans_per_trace=4, services=4)
            # the other two receive their share while the third is down
            assert wait_until(lambda: collector.metric_value("otelcol_loadbalancer_backend_outcome_total",
                                                             endpoint=down.endpoint, success="false") >= 2, timeout=60)
            time.sleep(10)
            up_before = [fleet[0].count(), fleet[1].count()]
            assert down.count() == 0
        finally:
            down.collector.restart()
        assert wait_until(lambda: total_spans(fleet) >= 2_000, timeout=120), total_spans(fleet)
        time.sleep(0.5)
        assert total_spans(fleet) == 2_000
        assert [fleet[0].count(), fleet[1].count()] == up_before
        assert down.count() > 0
        where = sinks_by_trace(fleet)
        assert len(where) == 500 and all(len(sinks) == 1 for sinks in where.values())


def test_dns_resolver_uses_the_system_resolver(fleet: list[Backend]) -> None:
    """`dns` asks getaddrinfo; an address literal resolves to itself, so one backend is found."""
    target = fleet[0]
    resolver = (f'    dns {{\n      hostname = "127.0.0.1"\n      port     = "{target.grpc_port}"\n'
                '      interval = "1s"\n    }')
    collector, port = first_tier(resolver)
    with collector:
        send_traces(port, new_trace_ids(50), spans_per_trace=2, services=1)
        assert wait_until(lambda: target.count() >= 100, timeout=60)
        assert collector.metric_value("otelcol_loadbalancer_num_resolutions_total", resolver="dns", success="true") >= 1
