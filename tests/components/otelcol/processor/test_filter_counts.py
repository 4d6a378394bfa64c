"""The filter processor's incoming/outgoing item counters."""

from __future__ import annotations

import asyncio

import msgspec
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from prometheus_client import REGISTRY

from collector.components.otelcol.processor.filter import Arguments, FilterProcessor
from collector.signals import Payload, Signal
from collector.testing.context import CollectingConsumer, build_context, ref


def _count(family: str) -> float:
    return REGISTRY.get_sample_value(family, {"component_id": "otelcol.processor.filter.counts",
                                              "component_path": "/", "otel_signal": "metrics"}) or 0.0


def test_incoming_and_outgoing_items() -> None:
    args = msgspec.convert({"metrics": {"datapoint": ["value_int < 10"]}, "output": {}}, Arguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, metrics=[ref("sink", Signal.METRICS)]))
    args.validate()
    sink = CollectingConsumer()
    proc = FilterProcessor(build_context(FilterProcessor, "otelcol.processor.filter.counts", consumers={"sink": sink}), args)
    request = json_format.ParseDict({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"asInt": "1"}, {"asInt": "50"}, {"asInt": "70"}]}}]}]}]},
        ExportMetricsServiceRequest())
    for _ in range(2):
        asyncio.run(proc.consume(Payload(Signal.METRICS, data=request.SerializeToString())))
    assert _count("otelcol_processor_incoming_items_total") == 6
    assert _count("otelcol_processor_outgoing_items_total") == 4
    assert sink.payloads[0].item_count == 2
