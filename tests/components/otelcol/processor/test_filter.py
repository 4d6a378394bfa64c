from __future__ import annotations

import asyncio

import msgspec
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.components.otelcol.processor.filter import Arguments, FilterProcessor
from collector.signals import Payload, Signal
from collector.signals.payload import AckToken
from collector.testing.context import CollectingConsumer, build_context, ref


def _request() -> ExportMetricsServiceRequest:
    return json_format.ParseDict({"resourceMetrics": [
        {"resource": {"attributes": [{"key": "env", "value": {"stringValue": "dev"}}]}, "scopeMetrics": [{"metrics": [
            {"name": "drop_me", "gauge": {"dataPoints": [{"asInt": "1"}]}},
            {"name": "keep", "gauge": {"dataPoints": [{"asInt": "1"}, {"asInt": "50"}]}}]}]},
        {"resource": {}, "scopeMetrics": [{"metrics": [{"name": "only_small", "gauge": {"dataPoints": [{"asInt": "2"}]}}]}]},
    ]}, ExportMetricsServiceRequest())


def _run(metrics: dict[str, list[str]]) -> tuple[CollectingConsumer, AckToken]:
    args = msgspec.convert({"metrics": metrics, "output": {}}, Arguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, metrics=[ref("sink", Signal.METRICS)]))
    args.validate()
    sink = CollectingConsumer()
    proc = FilterProcessor(build_context(FilterProcessor, "otelcol.processor.filter.f", consumers={"sink": sink}), args)
    token = AckToken(1)
    asyncio.run(proc.consume(Payload(Signal.METRICS, data=_request().SerializeToString(), acks=[token])))
    return sink, token


def test_metric_then_datapoint_conditions_and_empty_containers_removed() -> None:
    sink, _ = _run({"metric": ['name == "drop_me"'], "datapoint": ["value_int < 10"]})
    out = ExportMetricsServiceRequest.FromString(sink.payloads[0].data)
    assert len(out.resource_metrics) == 1  # the second resource lost its only point
    metrics = out.resource_metrics[0].scope_metrics[0].metrics
    assert [m.name for m in metrics] == ["keep"]
    assert [dp.as_int for dp in metrics[0].gauge.data_points] == [50]


def test_everything_filtered_settles_and_forwards_nothing() -> None:
    sink, token = _run({"datapoint": ['resource.attributes["env"] == "dev" or value_int >= 0']})
    assert sink.payloads == [] and token.released
