"""Host bookkeeping and the `traces_host_info` metric of `otelcol.connector.host_info`."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

SCOPE_NAME = "hostinfoconnector"
METRIC_NAME = "traces_host_info"
HOST_ATTRIBUTE = "grafana.host.id"


class HostSet:
    """Distinct host identifier values seen since the last `take()`.

    Every listed identifier present on a resource counts (string values only), as B.10 describes;
    list order picks no winner.
    """

    __slots__ = ("identifiers", "_hosts")

    def __init__(self, identifiers: Sequence[str]) -> None:
        self.identifiers = tuple(identifiers)
        self._hosts: set[str] = set()

    def record(self, resource_spans: Iterable[Any]) -> None:
        wanted = self.identifiers
        hosts = self._hosts
        for rs in resource_spans:
            for kv in rs.resource.attributes:
                if kv.key in wanted and kv.value.WhichOneof("value") == "string_value":
                    hosts.add(kv.value.string_value)

    def take(self) -> set[str]:
        hosts, self._hosts = self._hosts, set()
        return hosts

    def __len__(self) -> int:
        return len(self._hosts)


def host_info_metrics(hosts: Iterable[str], now_ns: int) -> ExportMetricsServiceRequest:
    """One empty resource, scope `hostinfoconnector`, gauge `traces_host_info`: one point (1) per host."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.SetInParent()
    sm = rm.scope_metrics.add()
    sm.scope.name = SCOPE_NAME
    metric = sm.metrics.add()
    metric.name = METRIC_NAME
    points = metric.gauge.data_points
    for host in sorted(hosts):
        point = points.add()
        point.start_time_unix_nano = now_ns
        point.time_unix_nano = now_ns
        point.as_int = 1
        attribute = point.attributes.add()
        attribute.key = HOST_ATTRIBUTE
        attribute.value.string_value = host
    return request
