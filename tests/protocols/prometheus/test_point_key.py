from __future__ import annotations

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collector.protocols.prometheus.translate import _flags_bytes, attributes_key, point_key


def _kv(key: str, value: str) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


ATTRS = [_kv("route", "/api/" + "x" * 200), _kv("method", "GET")]


def test_number_point_key_matches_the_general_scan() -> None:
    for flags in (0, 1, 300):
        for exemplars in ([], [metrics_pb2.Exemplar(as_double=1.0, span_id=b"\x01" * 8)]):
            dp = metrics_pb2.NumberDataPoint(start_time_unix_nano=1, time_unix_nano=2, as_int=7, flags=flags,
                                             attributes=ATTRS, exemplars=exemplars)
            data = dp.SerializeToString()
            expected = attributes_key(data, 0x3A)
            assert expected and point_key(data, 0x3A, _flags_bytes(flags)) == expected


def test_histogram_point_key_matches_the_general_scan() -> None:
    for bounds in ([1.0, 2.0], [float(b) for b in range(40)]):  # the long one needs a 2-byte length
        for extra in ({}, {"min": 0.5, "max": 9.0, "flags": 1}):
            dp = metrics_pb2.HistogramDataPoint(time_unix_nano=2, count=3, sum=4.0, explicit_bounds=bounds,
                                                bucket_counts=[1] * (len(bounds) + 1), attributes=ATTRS,
                                                **extra)
            data = dp.SerializeToString()
            trailing = _flags_bytes(dp.flags) + 9 * dp.HasField("min") + 9 * dp.HasField("max")
            expected = attributes_key(data, 0x4A)
            assert expected and point_key(data, 0x4A, trailing) == expected


def test_a_point_without_attributes_has_an_empty_key() -> None:
    data = metrics_pb2.NumberDataPoint(time_unix_nano=2, as_double=1.5).SerializeToString()
    assert point_key(data, 0x3A, 0) == b""
