"""examples/opentelemetry.alloy: OpenTelemetry SDK metrics land in a real Prometheus as the rules say."""

from __future__ import annotations

from collector.testing.process import CollectorProcess
from collector.testing.prometheus import PrometheusServer, wait_until
from collector.testing.sdk import send_metrics
from tests.prometheus.otel_config import opentelemetry_config

RESOURCE = {"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "pod-1",
            "deployment.environment": "prod", "team.name": "payments"}
SELECT = 'job="shop/checkout", instance="pod-1"'


def value(prometheus: PrometheusServer, expr: str) -> float:
    found = wait_until(lambda: prometheus.query(expr), 30, expr)
    assert len(found) == 1, found
    return float(found[0]["value"][1])


def test_sdk_metrics_are_queryable_with_translated_names(prometheus: PrometheusServer) -> None:
    config, grpc = opentelemetry_config()
    with CollectorProcess(config, env={"PROMETHEUS_URL": prometheus.write_url}):
        send_metrics("grpc", f"127.0.0.1:{grpc}", resource=RESOURCE, counter_value=5, gauge_value=2.5,
                     histogram_values=(1.0, 7.0), attributes={"http.route": "/pay"})
        series = f'{SELECT}, http_route="/pay"'
        # counter, unit "1": _total and no _ratio; up-down counter: a gauge, the {item} unit is dropped
        assert value(prometheus, f"requests_total{{{series}}}") == 5
        assert value(prometheus, f"queue_depth{{{series}}}") == 3
        # histogram in ms: _milliseconds; cumulative buckets
        assert value(prometheus, f"latency_milliseconds_count{{{series}}}") == 2
        assert value(prometheus, f"latency_milliseconds_sum{{{series}}}") == 8
        assert value(prometheus, f'latency_milliseconds_bucket{{{series}, le="5"}}') == 1
        assert value(prometheus, f'latency_milliseconds_bucket{{{series}, le="+Inf"}}') == 2
        # gauge in Cel: _celsius
        assert value(prometheus, f"temperature_celsius{{{series}}}") == 2.5

        labels = prometheus.query(f"requests_total{{{series}}}")[0]["metric"]
        assert labels["otel_scope_name"] == "collector.tests"
        assert labels["deployment_environment"] == "prod"  # promoted by the example's transform processor
        assert "team_name" not in labels and "service_name" not in labels

        info = wait_until(lambda: prometheus.query(f"target_info{{{SELECT}}}"), 30, "target_info")
        assert len(info) == 1 and float(info[0]["value"][1]) == 1
        attributes = info[0]["metric"]
        assert attributes["team_name"] == "payments"
        assert attributes["deployment_environment"] == "prod"
        assert attributes.get("host_name")  # added by the example's resourcedetection (system)
        assert not {"service_name", "service_namespace", "service_instance_id"} & attributes.keys()
