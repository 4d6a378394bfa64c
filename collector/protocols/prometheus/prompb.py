"""Remote-write 1.0 message classes built at import time from a `descriptor_pb2` description.

No protoc at install time: the `prometheus` package's messages are declared here field by field and
turned into upb classes by the protobuf runtime. The encoder does not use them (it writes bytes
directly, see `remote_write.py`); tests and sinks use them to decode what we send.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _build() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="collector/prometheus_remote.proto", package="prometheus",
                                              syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str]]) -> None:
        msg = file.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name

    rep, opt = _F.LABEL_REPEATED, _F.LABEL_OPTIONAL
    message("Label", [("name", 1, _F.TYPE_STRING, opt, ""), ("value", 2, _F.TYPE_STRING, opt, "")])
    message("Sample", [("value", 1, _F.TYPE_DOUBLE, opt, ""), ("timestamp", 2, _F.TYPE_INT64, opt, "")])
    message("Exemplar", [("labels", 1, _F.TYPE_MESSAGE, rep, ".prometheus.Label"),
                         ("value", 2, _F.TYPE_DOUBLE, opt, ""), ("timestamp", 3, _F.TYPE_INT64, opt, "")])
    message("TimeSeries", [("labels", 1, _F.TYPE_MESSAGE, rep, ".prometheus.Label"),
                           ("samples", 2, _F.TYPE_MESSAGE, rep, ".prometheus.Sample"),
                           ("exemplars", 3, _F.TYPE_MESSAGE, rep, ".prometheus.Exemplar")])
    message("MetricMetadata", [("type", 1, _F.TYPE_INT32, opt, ""), ("metric_family_name", 2, _F.TYPE_STRING, opt, ""),
                               ("help", 4, _F.TYPE_STRING, opt, ""), ("unit", 5, _F.TYPE_STRING, opt, "")])
    message("WriteRequest", [("timeseries", 1, _F.TYPE_MESSAGE, rep, ".prometheus.TimeSeries"),
                             ("metadata", 3, _F.TYPE_MESSAGE, rep, ".prometheus.MetricMetadata")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    names = ("Label", "Sample", "Exemplar", "TimeSeries", "MetricMetadata", "WriteRequest")
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"prometheus.{name}")) for name in names}


_CLASSES = _build()
Label = _CLASSES["Label"]
Sample = _CLASSES["Sample"]
Exemplar = _CLASSES["Exemplar"]
TimeSeries = _CLASSES["TimeSeries"]
MetricMetadata = _CLASSES["MetricMetadata"]
WriteRequest = _CLASSES["WriteRequest"]


def decode(body: bytes) -> Any:
    """Parse an uncompressed WriteRequest."""
    request = WriteRequest()
    request.ParseFromString(body)
    return request
