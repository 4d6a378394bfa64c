"""The transform processor on its byte path: payload ownership, counts, modification and mixing with
groups that need the decoded message."""

from __future__ import annotations

import asyncio

import msgspec
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from prometheus_client import REGISTRY

from collector.components.otelcol.processor.transform import Arguments, TransformProcessor
from collector.ottl.runner import compile_group, run_group
from collector.signals import Payload, Signal
from collector.signals.payload import AckToken
from collector.testing.context import CollectingConsumer, build_context, ref

TUTORIAL = [
    'set(attributes["deployment.environment"], resource.attributes["deployment.environment"])',
    'set(attributes["service.version"], resource.attributes["service.version"])',
]


def _request(resource: dict[str, str]) -> ExportMetricsServiceRequest:
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in resource.items()]
    point = {"asDouble": 1.0, "attributes": [{"key": "path", "value": {"stringValue": "/"}}]}
    return json_format.ParseDict({"resourceMetrics": [
        {"resource": {"attributes": attrs}, "scopeMetrics": [{"metrics": [
            {"name": "g", "gauge": {"dataPoints": [point, point]}},
            {"name": "h", "histogram": {"dataPoints": [{"count": "1", "attributes": []}]}}]}]},
    ]}, ExportMetricsServiceRequest())


def _processor(groups: list[dict[str, object]], error_mode: str = "ignore",
               name: str = "t") -> tuple[TransformProcessor, CollectingConsumer]:
    args = msgspec.convert({"error_mode": error_mode, "metric_statements": groups, "output": {}}, Arguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, metrics=[ref("sink", Signal.METRICS)]))
    args.validate()
    sink = CollectingConsumer(settle=False)
    proc = TransformProcessor(build_context(TransformProcessor, f"otelcol.processor.transform.{name}",
                                            consumers={"sink": sink}), args)
    return proc, sink


def _reference(groups: list[dict[str, object]], request: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest:
    expected = ExportMetricsServiceRequest()
    expected.CopyFrom(request)
    for g in groups:
        run_group(expected, Signal.METRICS.spec, compile_group(str(g["context"]), g["statements"]),  # type: ignore[arg-type]
                  lambda text, exc: None)
    return expected


def _count(family: str, name: str) -> float:
    return REGISTRY.get_sample_value(family, {"component_id": f"otelcol.processor.transform.{name}",
                                              "component_path": "/", "otel_signal": "metrics"}) or 0.0


def test_bytes_in_bytes_out_with_count_and_claims_moved() -> None:
    groups = [{"context": "datapoint", "statements": TUTORIAL}]
    proc, sink = _processor(groups, name="bytes")
    request = _request({"deployment.environment": "prod", "service.version": "1"})
    token = AckToken(1)
    payload = Payload(Signal.METRICS, data=request.SerializeToString(), acks=[token])
    asyncio.run(proc.consume(payload))
    (out,) = sink.payloads
    assert not out.is_decoded and out.item_count == 3
    assert ExportMetricsServiceRequest.FromString(out.data) == _reference(groups, request)
    assert payload.acks == [] and out.acks == [token] and not token.released
    out.settle()
    assert token.released
    assert _count("otelcol_processor_incoming_items_total", "bytes") == 3
    assert _count("otelcol_processor_outgoing_items_total", "bytes") == 3


def test_unchanged_payload_keeps_its_bytes() -> None:
    proc, sink = _processor([{"context": "datapoint", "statements": TUTORIAL}])
    data = _request({"host.name": "h"}).SerializeToString()
    asyncio.run(proc.consume(Payload(Signal.METRICS, data=data)))
    (out,) = sink.payloads
    assert out.data is data and out.item_count == 3


def test_decoded_payload_as_behind_resourcedetection() -> None:
    groups = [{"context": "datapoint", "statements": TUTORIAL}]
    proc, sink = _processor(groups)
    request = _request({"deployment.environment": "prod"})
    message = ExportMetricsServiceRequest()
    message.CopyFrom(request)
    asyncio.run(proc.consume(Payload(Signal.METRICS, message=message, item_count=3)))
    assert ExportMetricsServiceRequest.FromString(sink.payloads[0].data) == _reference(groups, request)


def test_byte_path_then_decoded_path_then_byte_path() -> None:
    groups = [{"context": "datapoint", "statements": TUTORIAL[:1]},
              {"context": "datapoint", "statements": ['set(attributes["v"], value_double) where attributes["path"] == "/"']},
              {"context": "datapoint", "statements": ['set(attributes["team"], "a")']}]
    proc, sink = _processor(groups)
    request = _request({"deployment.environment": "prod"})
    asyncio.run(proc.consume(Payload(Signal.METRICS, data=request.SerializeToString())))
    (out,) = sink.payloads
    assert ExportMetricsServiceRequest.FromString(out.data) == _reference(groups, request)
    assert out.item_count == 3


def test_propagate_on_the_byte_path_drops_and_settles() -> None:
    proc, sink = _processor([{"context": "datapoint", "statements": [
        'set(attributes["x"], ToUpperCase(resource.attributes["n"]))']}], "propagate", name="prop")
    request = _request({})
    request.resource_metrics[0].resource.attributes.add(key="n").value.int_value = 3
    token = AckToken(1)
    asyncio.run(proc.consume(Payload(Signal.METRICS, data=request.SerializeToString(), acks=[token])))
    assert sink.payloads == [] and token.released
    assert REGISTRY.get_sample_value("collector_processor_dropped_items_total", {
        "component_id": "otelcol.processor.transform.prop", "component_path": "/", "otel_signal": "metrics",
        "reason": "transform_error"}) == 3
