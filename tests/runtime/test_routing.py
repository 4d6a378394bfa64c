from __future__ import annotations

import zlib

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from collector.runtime.routing import RoundRobin, resource_bytes, split_by_resource, top_level_entries


def _request(services: list[str], points_each: int = 2) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    for name in services:
        rm = request.resource_metrics.add()
        attr = rm.resource.attributes.add()
        attr.key = "service.name"
        attr.value.string_value = name
        metric = rm.scope_metrics.add().metrics.add()
        metric.name = f"m_{name}"
        for i in range(points_each):
            metric.gauge.data_points.add().as_int = i
    return request


def test_entries_cover_every_resource_and_slices_are_valid_requests() -> None:
    request = _request(["a", "b", "c"])
    data = request.SerializeToString()
    entries = top_level_entries(data)
    assert len(entries) == 3
    for (start, end, body_start, body_end), rm in zip(entries, request.resource_metrics):
        part = ExportMetricsServiceRequest.FromString(data[start:end])
        assert part.resource_metrics[0] == rm
        assert resource_bytes(data, body_start, body_end) == rm.resource.SerializeToString()


def test_split_by_resource_is_stable_and_lossless() -> None:
    services = [f"svc{i}" for i in range(40)]
    request = _request(services)
    data = request.SerializeToString()
    groups = split_by_resource(data, 3)
    merged = ExportMetricsServiceRequest()
    for owner, part in groups.items():
        decoded = ExportMetricsServiceRequest.FromString(part)
        for rm in decoded.resource_metrics:
            assert zlib.crc32(rm.resource.SerializeToString()) % 3 == owner
        merged.resource_metrics.extend(decoded.resource_metrics)
    assert sorted(rm.resource.attributes[0].value.string_value for rm in merged.resource_metrics) == sorted(services)
    # the same resource always lands on the same worker, whatever else is in the request
    alone = split_by_resource(_request(["svc7"]).SerializeToString(), 3)
    owner_alone = next(iter(alone))
    owner_in_mix = next(o for o, part in groups.items()
                        if any(rm.resource.attributes[0].value.string_value == "svc7"
                               for rm in ExportMetricsServiceRequest.FromString(part).resource_metrics))
    assert owner_alone == owner_in_mix


def test_single_worker_keeps_bytes_untouched() -> None:
    data = _request(["a"]).SerializeToString()
    assert split_by_resource(data, 1) == {0: data}


def test_round_robin_rotates_and_lists_every_worker() -> None:
    rr = RoundRobin(3)
    assert [rr.order() for _ in range(4)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]
