"""Decode an Export request exactly once: validate it, count its items, keep the bytes to pass on.

Protobuf input is parsed with upb and its received bytes are handed on unchanged (no re-encode).
JSON input is converted to a message and serialized once, so downstream only ever sees protobuf.
Item counting reads repeated-field lengths per scope (`len(scope.spans)`), never visits items.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from collector.protocols.otlp_json import JsonDecodeError, json_to_message
from collector.protocols.otlp_limits import DEFAULT_LIMITS, RequestLimits, prescan_json_text, prescan_json_tree, \
    prescan_protobuf
from collector.protocols.status import ExportError, ExportRejected, GrpcCode
from collector.signals import Signal

__all__ = ["DecodedExport", "decode_protobuf", "decode_json"]


@dataclass(frozen=True, slots=True)
class DecodedExport:
    signal: Signal
    data: bytes  # serialized Export*ServiceRequest
    message: Message
    item_count: int


def decode_protobuf(signal: Signal, data: bytes, limits: RequestLimits = DEFAULT_LIMITS) -> DecodedExport:
    """Raises `ExportRejected`: INVALID_ARGUMENT for bytes that are not the request, `TooMuchWork`
    for a request over the caps (found by a wire-level pre-scan, before upb allocates anything)."""
    spec = signal.spec
    prescan_protobuf(signal, data, limits)
    message = spec.request_class()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ExportRejected(ExportError(GrpcCode.INVALID_ARGUMENT, f"unable to decode the {spec.signal.value} "
                                                                    f"request as protobuf: {exc}")) from None
    return DecodedExport(signal, data, message, spec.count_items(message))


def decode_json(signal: Signal, body: bytes, limits: RequestLimits = DEFAULT_LIMITS) -> DecodedExport:
    spec = signal.spec
    prescan_json_text(body, limits)
    try:
        message = json_to_message(body, spec.request_class(), lambda tree: prescan_json_tree(signal, tree, limits))
    except JsonDecodeError as exc:
        raise ExportRejected(ExportError(GrpcCode.INVALID_ARGUMENT, f"unable to decode the {spec.signal.value} "
                                                                    f"request as OTLP/JSON: {exc}")) from None
    return DecodedExport(signal, message.SerializeToString(), message, spec.count_items(message))
