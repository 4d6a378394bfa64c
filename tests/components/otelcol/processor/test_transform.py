from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.components.kit.api import ArgumentError
from collector.components.otelcol.processor.transform import Arguments, TransformProcessor
from collector.ottl.values import map_to_python
from collector.signals import Payload, Signal
from collector.testing.context import CollectingConsumer, build_context, ref

TUTORIAL = [
    'set(attributes["deployment.environment"], resource.attributes["deployment.environment"])',
    'set(attributes["service.version"], resource.attributes["service.version"])',
]


def _request() -> ExportMetricsServiceRequest:
    attrs = [{"key": "deployment.environment", "value": {"stringValue": "prod"}},
             {"key": "service.version", "value": {"stringValue": "1.2.3"}}]
    point = {"asDouble": 1.0, "attributes": [{"key": "path", "value": {"stringValue": "/"}}]}
    return json_format.ParseDict({"resourceMetrics": [
        {"resource": {"attributes": attrs}, "scopeMetrics": [{"metrics": [
            {"name": "g", "gauge": {"dataPoints": [point, point]}},
            {"name": "h", "histogram": {"dataPoints": [{"count": "1", "attributes": []}]}}]}]},
        {"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [
            {"name": "g", "gauge": {"dataPoints": [point]}}]}]},
    ]}, ExportMetricsServiceRequest())


def _args(statements: list[str], error_mode: str = "ignore") -> Arguments:
    args = msgspec.convert({"error_mode": error_mode, "metric_statements": [{"context": "datapoint", "statements": statements}],
                            "output": {}}, Arguments)
    return msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, metrics=[ref("sink", Signal.METRICS)]))


def _run(args: Arguments, request: ExportMetricsServiceRequest) -> tuple[CollectingConsumer, Payload]:
    args.validate()
    sink = CollectingConsumer()
    proc = TransformProcessor(build_context(TransformProcessor, "otelcol.processor.transform.t",
                                            consumers={"sink": sink}), args)
    payload = Payload(Signal.METRICS, data=request.SerializeToString())
    asyncio.run(proc.consume(payload))
    return sink, payload


def test_tutorial_copies_resource_attributes_onto_points() -> None:
    sink, _ = _run(_args(TUTORIAL), _request())
    assert len(sink.payloads) == 1
    out = ExportMetricsServiceRequest.FromString(sink.payloads[0].data)
    first = out.resource_metrics[0].scope_metrics[0].metrics
    for metric in first:
        for dp in getattr(metric, metric.WhichOneof("data")).data_points:
            attrs = map_to_python(dp.attributes)
            assert attrs["deployment.environment"] == "prod" and attrs["service.version"] == "1.2.3"
    untouched = out.resource_metrics[1].scope_metrics[0].metrics[0].gauge.data_points[0]
    assert map_to_python(untouched.attributes) == {"path": "/"}


def test_propagate_drops_the_payload_and_settles_it() -> None:
    from collector.signals.payload import AckToken

    token = AckToken(1)
    args = _args(['set(attributes["x"], ToUpperCase(value_double))'], "propagate")
    args.validate()
    sink = CollectingConsumer()
    proc = TransformProcessor(build_context(TransformProcessor, "otelcol.processor.transform.t",
                                            consumers={"sink": sink}), args)
    asyncio.run(proc.consume(Payload(Signal.METRICS, data=_request().SerializeToString(), acks=[token])))
    assert sink.payloads == [] and token.released


def test_bad_statement_is_an_argument_error_with_position() -> None:
    with pytest.raises(ArgumentError) as info:
        _args([TUTORIAL[0], 'set(attributes["a"], Concat(["x"], "-")']).validate()
    assert info.value.attribute == "metric_statements[0].statements[1]"
    assert str(info.value).startswith("statement 1: 1:")


def test_example_configuration_statements_compile() -> None:
    text = (Path(__file__).parents[4] / "examples" / "opentelemetry.alloy").read_text()
    for statement in TUTORIAL:
        assert statement.replace('"', '\\"') in text
    _args(TUTORIAL).validate()
