"""Split one OTLP Export request by routing key, on the wire, into one request per backend.

Why on the wire: the first tier of a fleet does nothing but route, so its cost per item must be a
few varint reads, not a protobuf decode and re-encode. An Export request is nested length-delimited
messages (request > ResourceX > ScopeX > item [> metric data > data point]); this module walks them
with `collector.protocols.wire.fields`, reads the routing key where it lives, and rebuilds only what
has to be cut:

* a message whose items all go to one backend is copied as the original byte slice (a resource
  whose spans all belong to traces of one backend costs no re-encoding at all);
* a message whose items go to several backends is re-emitted once per backend as its non-child
  fields (resource, scope, schema_url, metric name, temporality, ...) followed by that backend's
  children, with a new length prefix. Every piece is a valid message of the same type, so each
  backend's request is a valid Export request and the backend sees the same resource and scope.

Keys (the loadbalancing exporter's `routing_key`):

| routing_key | signal | where the key is | what is copied whole |
|---|---|---|---|
| `traceID` | traces | each span's `trace_id` | resources/scopes whose spans all map to one backend |
| `traceID` | logs | each record's `trace_id` (records without one: one random key per request) | same |
| `service` | traces, logs, metrics | the resource's `service.name` | every resource |
| `resource` | metrics | the serialized resource | every resource |
| `metric` | metrics | each metric's name | scopes whose metrics map to one backend |
| `streamID` | metrics | resource, scope, metric identity, point attributes | metrics whose points share a backend |

Item counts (spans, log records, data points) are counted during the same walk, because the
exporter's queue and counters need them and a decode just to count would undo the point.
"""

from __future__ import annotations

import os
from typing import Callable, Final, NamedTuple, Sequence

from collector.protocols.wire import WireError, encode_varint, fields, read_varint, scan_field
from collector.signals import Signal

Route = Callable[[bytes], str]  # routing key -> backend endpoint

ROUTING_KEYS: Final[dict[str, frozenset[Signal]]] = {
    "traceID": frozenset({Signal.TRACES, Signal.LOGS}),
    "service": frozenset({Signal.TRACES, Signal.LOGS, Signal.METRICS}),
    "resource": frozenset({Signal.METRICS}),
    "metric": frozenset({Signal.METRICS}),
    "streamID": frozenset({Signal.METRICS}),
}

# The child field numbers of each level below the Export request (field 1 = ResourceX):
# ResourceX.scope_x = 2, ScopeX.items = 2; Metric.{gauge,sum,histogram,exponential_histogram,summary}
# = 5/7/9/10/11, and every metric data message keeps its data points in field 1.
_METRIC_DATA: Final = frozenset({5, 7, 9, 10, 11})
_CHILDREN: Final[dict[Signal, tuple[frozenset[int], ...]]] = {
    Signal.TRACES: (frozenset({2}), frozenset({2})),
    Signal.LOGS: (frozenset({2}), frozenset({2})),
    Signal.METRICS: (frozenset({2}), frozenset({2}), _METRIC_DATA, frozenset({1})),
}
# depth of the routed unit: 0 = resource, 1 = scope, 2 = span/log record/metric, 4 = data point
_KEY_DEPTH: Final[dict[str, int]] = {"traceID": 2, "service": 0, "resource": 0, "metric": 2, "streamID": 4}
# attributes field of each data point type, by the Metric field that holds its data
_POINT_ATTRIBUTES: Final = {5: 7, 7: 7, 9: 9, 10: 1, 11: 7}
_LOG_TRACE_ID: Final = 9
_SERVICE_NAME: Final = b"service.name"


class Part(NamedTuple):
    """One backend's share of a request: a valid Export request and its item count."""

    data: bytes
    items: int


class _Piece(NamedTuple):
    chunks: list[bytes]  # serialized children (or the whole message when `intact`)
    items: int


def _tag(number: int) -> bytes:
    return encode_varint(number << 3 | 2)


def _first_bytes_field(data: bytes, start: int, end: int, number: int) -> bytes:
    """The value of the first length-delimited field `number` in [start, end), or b""."""
    pos = start
    while pos < end:
        field, wire, value, stop = scan_field(data, pos, end)
        if field == number and wire == 2:
            return data[value:stop]
        pos = stop
    return b""


def service_name(data: bytes, start: int, end: int) -> bytes:
    """The `service.name` attribute of a ResourceX body, as the bytes of its AnyValue's string (or
    of the whole AnyValue when it is not a string); b"" when absent."""
    resource = _first_bytes_field(data, start, end, 1)
    for number, _, value, stop in fields(resource, 0, len(resource)):
        if number != 1 or value < 0:
            continue
        if _first_bytes_field(resource, value, stop, 1) == _SERVICE_NAME:
            any_value = _first_bytes_field(resource, value, stop, 2)
            if any_value[:1] == b"\x0a":  # AnyValue.string_value
                return _first_bytes_field(any_value, 0, len(any_value), 1)
            return any_value
    return b""


class Splitter:
    """Splits requests of one signal by one routing key; `route` maps a key to its backend."""

    def __init__(self, signal: Signal, routing_key: str) -> None:
        if signal not in ROUTING_KEYS[routing_key]:
            raise ValueError(f"routing_key {routing_key!r} does not apply to {signal.value}")
        self.signal = signal
        self.routing_key = routing_key
        self.children = _CHILDREN[signal]
        self.leaf_depth = len(self.children)
        self.key_depth = _KEY_DEPTH[routing_key]
        self._route: Route = lambda key: ""
        self._unkeyed = b""
        self._last_key: bytes | None = None
        self._last_backend = ""
        self._kind = 0

    def split(self, data: bytes, route: Route, items: int | None = None) -> dict[str, Part]:
        """backend -> its part. One backend gets the request's own bytes back (no copy); `items`,
        the request's item count when known, spares counting in that case."""
        self._route = route
        self._unkeyed = os.urandom(16)  # log records without a trace id: one random key per request
        self._last_key = None
        self._last_backend = ""
        self._kind = 0
        if self.key_depth == 0:
            return self._split_resources(data, items)
        pieces: dict[str, _Piece] = {}
        intact = True
        for number, start, value, stop in fields(data, 0, len(data)):
            if number != 1 or value < 0:
                continue  # not a ResourceX (an Export request has nothing else)
            routed, whole = self._visit(data, value, stop, 0, (), 0)
            self._merge(pieces, routed, whole, data, start, stop, 1)
            intact = intact and whole
        if len(pieces) == 1 and intact:
            (backend, piece), = pieces.items()
            return {backend: Part(data, piece.items)}
        return {backend: Part(b"".join(piece.chunks), piece.items) for backend, piece in pieces.items()}

    def _split_resources(self, data: bytes, items: int | None) -> dict[str, Part]:
        """Resource-level keys: route every ResourceX whole; count items only if the request is
        cut (a batch of one service, the common case, is passed on without a count scan)."""
        routed: dict[str, list[tuple[int, int, int]]] = {}
        for number, start, value, stop in fields(data, 0, len(data)):
            if number == 1 and value >= 0:
                key = self._key(data, value, stop, (), 1)
                routed.setdefault(self._backend(key), []).append((start, value, stop))
        if len(routed) == 1 and items is not None:
            (backend,) = routed
            return {backend: Part(data, items)}
        return {backend: Part(data if len(routed) == 1 else b"".join(data[start:stop] for start, _, stop in entries),
                              sum(self._count(data, value, stop, 0) for _, value, stop in entries))
                for backend, entries in routed.items()}

    # --- the walk ------------------------------------------------------------------------------
    def _backend(self, key: bytes) -> str:
        if key != self._last_key:  # consecutive spans of one trace are the common case
            self._last_key = key
            self._last_backend = self._route(key)
        return self._last_backend

    def _visit(self, data: bytes, start: int, end: int, depth: int, context: tuple[bytes, ...],
               via: int) -> tuple[dict[str, _Piece], bool]:
        """Route the message at [start, end) of level `depth`: (backend -> piece, whether the whole
        message goes to a single backend unchanged)."""
        if depth == self.key_depth:
            key = self._key(data, start, end, context, via)
            return {self._backend(key): _Piece([data[start:end]], self._count(data, start, end, depth))}, True
        if depth == 3:
            self._kind = via  # the Metric field holding this data: which point type follows
        child_numbers = self.children[depth]
        if depth + 1 == self.key_depth and self.routing_key == "traceID":
            return self._by_trace_id(data, start, end, child_numbers)
        entries = fields(data, start, end)
        others = b"".join(data[fstart:stop] for number, fstart, _, stop in entries if number not in child_numbers)
        inner = context + (bytes((via,)) + others,) if self.key_depth == 4 else context
        pieces: dict[str, _Piece] = {}
        intact = True
        for number, fstart, value, stop in entries:
            if number not in child_numbers or value < 0:
                continue
            routed, whole = self._visit(data, value, stop, depth + 1, inner, number)
            self._merge(pieces, routed, whole, data, fstart, stop, number)
            intact = intact and whole
        if len(pieces) <= 1 and intact:
            return {backend: _Piece([data[start:end]], piece.items) for backend, piece in pieces.items()}, True
        return {backend: _Piece([others, *piece.chunks], piece.items) for backend, piece in pieces.items()}, False

    def _by_trace_id(self, data: bytes, start: int, end: int,
                     child_numbers: frozenset[int]) -> tuple[dict[str, _Piece], bool]:
        """The hot loop: a scope's spans or log records, each routed by its trace id and kept as
        its original field bytes. The scope body is scanned inline (one-byte tags and lengths are
        read without a call) because this runs once per item."""
        chunks: dict[str, list[bytes]] = {}
        others: list[bytes] = []
        spans = self.signal is Signal.TRACES
        pos = start
        while pos < end:
            tag = data[pos]
            if tag == 0x12:  # field 2 (spans / log_records), length-delimited
                length = data[pos + 1]
                if length < 0x80:
                    value = pos + 2
                else:
                    length, value = read_varint(data, pos + 1)
                stop = value + length
                if stop > end:
                    raise WireError("truncated field")
                if spans and data[value] == 0x0A and data[value + 1] == 16:  # Span.trace_id comes first
                    key = data[value + 2:value + 18]
                elif spans:
                    key = _first_bytes_field(data, value, stop, 1)
                else:
                    key = _first_bytes_field(data, value, stop, _LOG_TRACE_ID) or self._unkeyed
                backend = self._backend(key)
                found = chunks.get(backend)
                if found is None:
                    chunks[backend] = [data[pos:stop]]
                else:
                    found.append(data[pos:stop])
            else:
                number, _, _, stop = scan_field(data, pos, end)
                if number in child_numbers:  # an item field with another wire type: malformed
                    raise WireError(f"field {number} is not length-delimited")
                others.append(data[pos:stop])
            pos = stop
        if len(chunks) <= 1:
            return {backend: _Piece([data[start:end]], len(items)) for backend, items in chunks.items()}, True
        head = b"".join(others)
        return {backend: _Piece([head, *items], len(items)) for backend, items in chunks.items()}, False

    @staticmethod
    def _merge(pieces: dict[str, _Piece], routed: dict[str, _Piece], whole: bool, data: bytes, fstart: int,
               stop: int, number: int) -> None:
        """Add one child's routing to its parent's: the original field bytes when the child went whole
        to one backend, else each backend's rebuilt child behind its tag and new length."""
        for backend, piece in routed.items():
            if whole:
                chunk = data[fstart:stop]
            else:
                body = b"".join(piece.chunks)
                chunk = _tag(number) + encode_varint(len(body)) + body
            have = pieces.get(backend)
            if have is None:
                pieces[backend] = _Piece([chunk], piece.items)
            else:
                have.chunks.append(chunk)
                pieces[backend] = _Piece(have.chunks, have.items + piece.items)

    def _key(self, data: bytes, start: int, end: int, context: tuple[bytes, ...], via: int) -> bytes:
        key = self.routing_key
        if key == "traceID":
            if self.signal is Signal.TRACES:
                if data[start] == 0x0A and data[start + 1] == 16:  # Span.trace_id first, 16 bytes
                    return data[start + 2:start + 18]
                return _first_bytes_field(data, start, end, 1)
            return _first_bytes_field(data, start, end, _LOG_TRACE_ID) or self._unkeyed
        if key == "service":
            return service_name(data, start, end)
        if key == "resource":
            return _first_bytes_field(data, start, end, 1)
        if key == "metric":
            return _first_bytes_field(data, start, end, 1)
        # streamID: resource, scope, metric identity and kind, data point attributes
        number = _POINT_ATTRIBUTES[self._kind]
        attributes = b"".join(data[fstart:stop] for n, fstart, _, stop in fields(data, start, end) if n == number)
        return b"\x00".join((*context, attributes))

    def _count(self, data: bytes, start: int, end: int, depth: int) -> int:
        """Items (spans, log records, data points) inside the message at [start, end) of `depth`."""
        if depth == self.leaf_depth:
            return 1
        child_numbers = self.children[depth]
        if depth == self.leaf_depth - 1:
            return _count_fields(data, start, end, child_numbers)
        return sum(self._count(data, value, stop, depth + 1)
                   for number, _, value, stop in fields(data, start, end) if number in child_numbers and value >= 0)


def _count_fields(data: bytes, start: int, end: int, numbers: frozenset[int]) -> int:
    """How many length-delimited fields with one of `numbers` lie in [start, end) (one-byte tags
    and lengths read inline: this runs once per item when counting)."""
    count = 0
    pos = start
    while pos < end:
        tag = data[pos]
        if tag & 7 == 2 and tag < 0x80:
            length = data[pos + 1]
            if length < 0x80:
                stop = pos + 2 + length
            else:
                length, value = read_varint(data, pos + 1)
                stop = value + length
            if tag >> 3 in numbers:
                count += 1
        else:
            number, wire, _, stop = scan_field(data, pos, end)
            if number in numbers and wire == 2:
                count += 1
        pos = stop
    if pos != end:
        raise WireError("truncated field")
    return count


def split_request(signal: Signal, routing_key: str, data: bytes, route: Route) -> dict[str, Part]:
    """One-shot form of `Splitter(signal, routing_key).split(data, route)`."""
    return Splitter(signal, routing_key).split(data, route)


def signals_of(routing_key: str) -> Sequence[Signal]:
    return sorted(ROUTING_KEYS[routing_key], key=lambda s: s.value)
