"""How much work one Export request may cause: caps on resources, scopes and items, checked before
the full decode.

Why. A protobuf message costs two bytes on the wire when empty but 60-180 bytes once decoded (upb
allocates every message), so a 20 KB gzip body inflating to 20 MiB of empty `ResourceSpans` decodes
into 10 million messages: seconds of CPU and most of a GiB, in the receiver and again in the worker.
The body-size limit cannot see that; counting can. `prescan_protobuf` walks only the three levels
the caps are about (resource -> scope -> item, plus data points for metrics) with the wire scanner,
hopping over every other field, and stops at the first cap exceeded, so a hostile body costs at most
`max_resources + max_scopes + max_items` field hops. A level whose bytes cannot hold more entries
than its cap (every entry takes at least two bytes) is not walked at all, so ordinary requests pay
nothing for the scan.

OTLP/JSON gets the same caps on its parsed tree (list lengths) and, before parsing, a cap on the
number of JSON objects (`{`), which bounds what the JSON parser allocates.

A request over a cap is refused whole as too large: HTTP 413 / gRPC RESOURCE_EXHAUSTED without
RetryInfo, the OTLP spec's answer for a message over the receive limit (permanent: resending the
same request cannot succeed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from collector.protocols.status import ExportError, ExportRejected, GrpcCode
from collector.protocols.wire import WIRE_LEN, WireError, scan_field
from collector.signals import Signal

__all__ = ["DEFAULT_LIMITS", "RequestLimits", "TooMuchWork", "prescan_json_text", "prescan_json_tree",
           "prescan_protobuf"]

# Field numbers shared by the three signals: Export*Request.resource_* = 1, Resource*.scope_* = 2,
# Scope*.<items> = 2. Metric data lives in a oneof of these fields; data_points is field 1 in each.
_RESOURCES: Final = 1
_SCOPES: Final = 2
_ITEMS: Final = 2
_METRIC_DATA: Final = frozenset((5, 7, 9, 10, 11))  # gauge, sum, histogram, exponential_histogram, summary
_DATA_POINTS: Final = 1
_MIN_ENTRY_BYTES: Final = 2  # tag + zero length: the smallest encoding of a repeated message entry


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Per-request caps. For metrics, metrics and their data points both count as items."""

    max_resources: int = 50_000
    max_scopes: int = 100_000
    max_items: int = 500_000
    max_json_objects: int = 2_000_000


DEFAULT_LIMITS: Final = RequestLimits()


class TooMuchWork(ExportRejected):
    """A request over one of the caps; `reason` names which (for the refusal counter)."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(ExportError(GrpcCode.RESOURCE_EXHAUSTED,
                                     f"request refused: more than {limit} {what} in one request", http_status=413))
        self.reason = "too_many_" + what.lower().replace(" ", "_")


def _entries_of(data: bytes, start: int, end: int, number: int, room: int, what: str, limit: int
                ) -> list[tuple[int, int]]:
    """(value start, end) of every length-delimited field `number` in [start, end); `TooMuchWork`
    as soon as there are more than `room` of them, so the walk never goes far past a cap."""
    out: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        field, wire, value, stop = scan_field(data, pos, end)
        if field == number and wire == WIRE_LEN:
            if len(out) == room:
                raise TooMuchWork(what, limit)
            out.append((value, stop))
        pos = stop
    return out


def _count_items(signal: Signal, data: bytes, scopes: list[tuple[int, int]], limit: int) -> None:
    room = limit
    for start, end in scopes:
        items = _entries_of(data, start, end, _ITEMS, room, "items", limit)
        room -= len(items)
        if signal is not Signal.METRICS:
            continue
        for metric_start, metric_end in items:
            pos = metric_start
            while pos < metric_end:
                field, wire, value, stop = scan_field(data, pos, metric_end)
                if field in _METRIC_DATA and wire == WIRE_LEN:
                    room -= len(_entries_of(data, value, stop, _DATA_POINTS, room, "items", limit))
                pos = stop


def prescan_protobuf(signal: Signal, data: bytes, limits: RequestLimits = DEFAULT_LIMITS) -> None:
    """Raise `TooMuchWork` if the serialized Export request is over a cap, `ExportRejected`
    (INVALID_ARGUMENT) if its outer levels are not well-formed protobuf; else return, having cost at
    most one hop per resource, scope and item and nothing for a body too short to exceed a cap.

    Every entry takes at least two bytes and nested entries own distinct tag/length bytes, so
    `len(data) // 2` bounds the resources, the scopes and the items (metrics plus points) alike."""
    bound = len(data) // _MIN_ENTRY_BYTES
    if bound <= min(limits.max_resources, limits.max_scopes, limits.max_items):
        return
    try:
        resources = _entries_of(data, 0, len(data), _RESOURCES, limits.max_resources, "resources",
                                limits.max_resources)
        if bound <= min(limits.max_scopes, limits.max_items):
            return
        scopes: list[tuple[int, int]] = []
        for start, end in resources:
            scopes += _entries_of(data, start, end, _SCOPES, limits.max_scopes - len(scopes), "scopes",
                                  limits.max_scopes)
        if bound <= limits.max_items:
            return
        _count_items(signal, data, scopes, limits.max_items)
    except (WireError, IndexError) as exc:
        reason = "truncated field" if isinstance(exc, IndexError) else str(exc)
        raise ExportRejected(ExportError(GrpcCode.INVALID_ARGUMENT, f"unable to decode the {signal.value} "
                                                                    f"request as protobuf: {reason}")) from None


def prescan_json_text(body: bytes, limits: RequestLimits = DEFAULT_LIMITS) -> None:
    """Before parsing: every JSON object costs a dict, so their count (an upper bound: braces inside
    strings count too) bounds what the parser allocates."""
    if len(body) > limits.max_json_objects and body.count(b"{") > limits.max_json_objects:
        raise TooMuchWork("JSON objects", limits.max_json_objects)


def _entries(node: Any, *keys: str) -> list[Any]:
    if not isinstance(node, dict):
        return []
    for key in keys:
        value = node.get(key)
        if isinstance(value, list):
            return value
    return []


_JSON_KEYS: Final = {
    Signal.TRACES: (("resourceSpans", "resource_spans"), ("scopeSpans", "scope_spans"), ("spans",)),
    Signal.METRICS: (("resourceMetrics", "resource_metrics"), ("scopeMetrics", "scope_metrics"), ("metrics",)),
    Signal.LOGS: (("resourceLogs", "resource_logs"), ("scopeLogs", "scope_logs"), ("logRecords", "log_records")),
}
_JSON_METRIC_DATA: Final = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def prescan_json_tree(signal: Signal, tree: dict[str, Any], limits: RequestLimits = DEFAULT_LIMITS) -> None:
    """After `orjson.loads`, before the (slow, per-field) conversion to protobuf: list lengths only."""
    resource_keys, scope_keys, item_keys = _JSON_KEYS[signal]
    resources = _entries(tree, *resource_keys)
    if len(resources) > limits.max_resources:
        raise TooMuchWork("resources", limits.max_resources)
    scopes = [scope for resource in resources for scope in _entries(resource, *scope_keys)]
    if len(scopes) > limits.max_scopes:
        raise TooMuchWork("scopes", limits.max_scopes)
    items = 0
    for scope in scopes:
        entries = _entries(scope, *item_keys)
        items += len(entries)
        if signal is Signal.METRICS:
            for metric in entries:
                if isinstance(metric, dict):
                    for kind in _JSON_METRIC_DATA:
                        items += len(_entries(metric.get(kind), "dataPoints", "data_points"))
        if items > limits.max_items:
            raise TooMuchWork("items", limits.max_items)
