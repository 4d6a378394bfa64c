"""Send telemetry with the real OpenTelemetry Python SDK and its OTLP exporters (tests, examples)."""

from __future__ import annotations

import time
from typing import Any, Callable, Literal, Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import AttributeValue

Protocol = Literal["grpc", "http"]


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll for an outcome (readiness, delivery); returns whether it happened before the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def send_spans(protocol: Protocol, endpoint: str, count: int, *, resource: dict[str, str] | None = None,
               attributes: Mapping[str, AttributeValue] | None = None, name: str = "op",
               headers: Mapping[str, str] | None = None) -> bool:
    """Send `count` spans; `headers` go with every export request (HTTP headers / gRPC metadata).
    Returns whether the exporter reported success for everything it sent."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        metadata = {key.lower(): value for key, value in (headers or {}).items()}  # gRPC keys are lower-case
        exporter = GrpcExporter(endpoint=endpoint, insecure=True, headers=metadata)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        exporter = HttpExporter(endpoint=endpoint.rstrip("/") + "/v1/traces",  # type: ignore[assignment]
                                headers=dict(headers or {}))
    results: list[bool] = []
    export = exporter.export

    def recording_export(spans: Any) -> Any:
        result = export(spans)
        results.append(result is SpanExportResult.SUCCESS)
        return result

    exporter.export = recording_export  # type: ignore[method-assign]
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "test"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=512, schedule_delay_millis=50))
    tracer = provider.get_tracer("collector.tests", "1.0")
    for i in range(count):
        with tracer.start_as_current_span(name, attributes={**(attributes or {}), "i": i}):
            pass
    provider.force_flush()
    provider.shutdown()
    return bool(results) and all(results)


def send_logs(protocol: Protocol, endpoint: str, count: int, *, resource: dict[str, str] | None = None,
              attributes: Mapping[str, AttributeValue] | None = None) -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpExporter

        exporter = HttpExporter(endpoint=endpoint.rstrip("/") + "/v1/logs")  # type: ignore[assignment]
    provider = LoggerProvider(resource=Resource.create(resource or {"service.name": "test"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=50))
    logger = provider.get_logger("collector.tests")
    emit_log(logger, count, attributes or {})
    provider.force_flush()
    provider.shutdown()


def emit_log(logger: object, count: int, attributes: Mapping[str, AttributeValue]) -> None:
    from opentelemetry._logs import LogRecord, SeverityNumber

    for i in range(count):
        logger.emit(LogRecord(body=f"line {i}", severity_number=SeverityNumber.INFO, severity_text="INFO",  # type: ignore[attr-defined]
                              attributes={**attributes, "i": i}))


def send_metrics(protocol: Protocol, endpoint: str, *, resource: dict[str, str] | None = None,
                 counter_value: int = 5, gauge_value: float = 2.5, histogram_values: tuple[float, ...] = (1.0, 7.0),
                 attributes: dict[str, str] | None = None) -> None:
    """One collection of: a counter, an up-down counter, a histogram and a gauge."""
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

        exporter = HttpExporter(endpoint=endpoint.rstrip("/") + "/v1/metrics")  # type: ignore[assignment]
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create(resource or {"service.name": "test"}), metric_readers=[reader])
    meter = provider.get_meter("collector.tests", "1.0")
    attrs = attributes or {}
    meter.create_counter("requests", unit="1", description="requests served").add(counter_value, attrs)
    meter.create_up_down_counter("queue_depth", unit="{item}").add(counter_value - 2, attrs)
    histogram = meter.create_histogram("latency", unit="ms")
    for value in histogram_values:
        histogram.record(value, attrs)

    def observe(_options: CallbackOptions) -> list[Observation]:
        return [Observation(gauge_value, attrs)]

    meter.create_observable_gauge("temperature", callbacks=[observe], unit="Cel")
    data = reader.get_metrics_data()
    if data is None:
        raise RuntimeError("the SDK collected no metrics")
    result = exporter.export(data)
    exporter.shutdown()
    provider.shutdown()
    if result.name != "SUCCESS":
        raise RuntimeError(f"metric export failed: {result}")
