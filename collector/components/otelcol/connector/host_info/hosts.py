"""Host bookkeeping and the `traces_host_info` metric of `otelcol.connector.host_info`."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

SCOPE_NAME = "hostinfoconnector"
METRIC_NAME = "traces_host_info"
HOST_ATTRIBUTE = "grafana.host.id"


class HostSet:
    """Distinct host identifier values seen since the last `take()`.

    Per resource, the FIRST identifier of `host_identifiers` that the resource carries names the host
    (as current Alloy's connector does, and as billing by this metric needs: one resource, one host);
    a later identifier counts only when the earlier ones are absent. Non-string values are skipped.
    """

    __slots__ = ("identifiers", "_hosts")

    def __init__(self, identifiers: Sequence[str]) -> None:
        self.identifiers = tuple(identifiers)
        self._hosts: set[str] = set()

    def record(self, resource_spans: Iterable[Any]) -> None:
        wanted = self.identifiers
        rank = {key: i for i, key in enumerate(wanted)}
        hosts = self._hosts
        for rs in resource_spans:
            best_rank, best = len(wanted), None
            for kv in rs.resource.attributes:
                position = rank.get(kv.key)
                if position is not None and position < best_rank and kv.value.WhichOneof("value") == "string_value":
                    best_rank, best = position, kv.value.string_value
            if best is not None:
                hosts.add(best)

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
