"""Apply a group of constant `set`s to a serialized Export request, without decoding its items.

Theory of operation. A group qualifies when every statement is `set(attributes["<literal>"], value)
[where cond]` with `value` and `cond` reading nothing below the item's parent, and every group
condition reads nothing at item level either (`CompiledGroup.constant_sets`). Then what the group does
to an item depends only on the hoisted slots of its resource, scope and parent: an ordered set of
`key -> value` pairs (nil values and false conditions drop out, a later statement on the same key
overrides an earlier one). Appending the encoded `KeyValue`s to an item's bytes is a valid protobuf
merge of its repeated `attributes` field and has exactly the effect of `set` on an item that does
not carry the key yet. So the walk below only reads lengths: per item it writes a new length prefix,
the item's original bytes and the shared encoded attributes. The message levels above the item
(resource, scope, metric or span) are decoded with upb only when the group reads them.

Exactness: an item in which the encoded key occurs at all (found with one C-level search per
container, which may also hit inside a value), and every item of a parent whose slots or conditions
raised, is decoded and run through the ordinary per-item visitor (`runner.visit_fn`), so duplicate
keys, in-place updates and per-item error reporting behave exactly as on the decoded path.

Wire format notes: unknown fields are copied through; tags of rewritten containers are re-encoded
canonically; an item behind a non-canonical (overlong) tag, groups (wire types 3/4) and truncated
input raise `SpliceError`, and the caller falls back to the decoded path. One encoding is trusted
rather than checked: a key whose length prefix is overlong (valid protobuf that no encoder emits)
is not found by the search, so such an item would get a second entry instead of an in-place update.
"""

from __future__ import annotations

from typing import Any, Callable, Final

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2

from collector.ottl.compiler import ConstantSet
from collector.ottl.paths import PARENT, RESOURCE, SCOPE, Frame
from collector.protocols.wire import WireError, encode_varint, read_varint, scan_field, set_any_value
from collector.protocols.wire import fields as _len_fields  # `fields` is a local name below

CONTEXTS: Final = ("datapoint", "span", "spanevent", "log")


class SpliceError(WireError):
    """The bytes are not a request this walker understands; use the decoded path instead."""


# Metric.data oneof: field number -> point class
_POINTS: Final[dict[int, Any]] = {
    metrics_pb2.Metric.DESCRIPTOR.fields_by_name[name].number: cls
    for name, cls in (("gauge", metrics_pb2.NumberDataPoint), ("sum", metrics_pb2.NumberDataPoint),
                      ("histogram", metrics_pb2.HistogramDataPoint),
                      ("exponential_histogram", metrics_pb2.ExponentialHistogramDataPoint),
                      ("summary", metrics_pb2.SummaryDataPoint))
}
_SPAN_EVENTS: Final = trace_pb2.Span.DESCRIPTOR.fields_by_name["events"].number
_ATTRIBUTES: Final[dict[Any, int]] = {
    cls: cls.DESCRIPTOR.fields_by_name["attributes"].number
    for cls in (*_POINTS.values(), trace_pb2.Span, trace_pb2.Span.Event, logs_pb2.LogRecord)
}
# Metric.data field tag byte -> (point class, its attributes field)
_POINT_TAGS: Final[dict[int, tuple[Any, int]]] = {number << 3 | 2: (cls, _ATTRIBUTES[cls]) for number, cls in _POINTS.items()}


class _Effect:
    """What the group does to every item under the current slots: encoded attributes to append
    (per attributes field number) and a search for items that may already carry one of the keys."""

    __slots__ = ("kvs", "needles", "extras")

    def __init__(self, changes: dict[str, Any]) -> None:
        self.kvs = []
        for key, value in changes.items():
            kv = KeyValue()
            kv.key = key
            set_any_value(kv.value, value)
            self.kvs.append(kv.SerializeToString())
        # An item that already has the key contains its encoding (KeyValue.key is field 1)
        self.needles = [b"\x0a" + encode_varint(len(k)) + k for k in (key.encode() for key in changes)]
        self.extras: dict[int, bytes] = {}

    def extra(self, attr_field: int) -> bytes:
        found = self.extras.get(attr_field)
        if found is None:
            tag = encode_varint(attr_field << 3 | 2)
            found = self.extras[attr_field] = b"".join(tag + encode_varint(len(kv)) + kv for kv in self.kvs)
        return found


_HEADER_TABLE: Final = 1024  # items up to this size get a cached header (larger ones are rare)
_HEADER_TABLES: Final = 64


def _header(headers: list[bytes], item_tag: int, grow: int, n: int) -> bytes:
    """The header of an `n`-byte item grown by `grow`; extends the table when `n` is small enough."""
    tag = bytes([item_tag])
    if n < _HEADER_TABLE:
        headers.extend(tag + encode_varint(i + grow) for i in range(len(headers), min(_HEADER_TABLE, 2 * n + 2)))
        return headers[n]
    return tag + encode_varint(n + grow)


def _first_hit(data: bytes, needles: list[bytes], start: int, end: int) -> int:
    """Where the first needle occurs in [start, end), or `end`."""
    hit = end
    for needle in needles:
        at = data.find(needle, start, hit)
        if at >= 0:
            hit = at
    return hit


def _count_items(data: bytes, start: int, end: int, item_tag: int) -> int:
    items = 0
    pos = start
    while pos < end:
        if data[pos] == item_tag:
            n = data[pos + 1]
            if n < 0x80:
                pos += 2 + n
            else:
                n, body = read_varint(data, pos + 1)
                pos = body + n
            items += 1
        else:
            pos = scan_field(data, pos, end)[3]
    if pos != end:
        raise SpliceError("truncated item")
    return items


def _count_scope_points(data: bytes, start: int, end: int) -> int:
    """Data points in a ScopeMetrics region."""
    points = 0
    for number, _, value, stop in _len_fields(data, start, end):
        if number == 2 and value >= 0:
            for data_number, _, c_start, c_end in _len_fields(data, value, stop):
                if data_number in _POINTS and c_start >= 0:
                    points += _count_items(data, c_start, c_end, 0x0A)
    return points


_SLOW: Final = object()  # the group's evaluation raised under these slots: visit every item
_EFFECT_CACHE_SIZE: Final = 256


class Splicer:
    """Runs one qualifying group over serialized requests. Not thread-safe (one frame, one cache)."""

    def __init__(self, context: str, constant_sets: list[ConstantSet],
                 conditions: list[tuple[str, Callable[[Any], bool]]], hoister: Any) -> None:
        if context not in CONTEXTS:
            raise ValueError(f"context {context!r} is not spliceable")
        self.context = context
        self.sets = constant_sets
        self.conditions = [cond for _, cond in conditions]
        self.hoister = hoister
        # which levels to decode: a slot of level L may read any level up to L
        deepest = max((lvl for lvl in (RESOURCE, SCOPE, PARENT) if hoister.by_level[lvl]), default=0)
        self.has = {lvl: lvl <= deepest for lvl in (RESOURCE, SCOPE, PARENT)}
        self.fills = {lvl: bool(hoister.by_level[lvl]) for lvl in (RESOURCE, SCOPE, PARENT)}
        self._effects: dict[tuple[Any, ...], _Effect] = {}
        self._headers: dict[tuple[int, int], list[bytes]] = {}

    def headers(self, item_tag: int, grow: int) -> list[bytes]:
        """`headers[n]`: the item tag and length prefix of an `n`-byte item grown by `grow` bytes
        (extended on demand by `_header`)."""
        table = self._headers.get((item_tag, grow))
        if table is None:
            if len(self._headers) >= _HEADER_TABLES:
                self._headers.clear()
            table = self._headers[(item_tag, grow)] = []
        return table

    # --- per-slot evaluation ------------------------------------------------------------------
    def _effect(self, f: Frame) -> _Effect | object | None:
        """None when the group changes nothing here, `_SLOW` when evaluating it raised."""
        try:
            if self.conditions:
                for cond in self.conditions:
                    if cond(f):
                        break
                else:
                    return None
            changes: dict[str, Any] = {}
            for cs in self.sets:
                if cs.cond is None or cs.cond(f):
                    v = cs.value(f)
                    if v is not None:
                        changes[cs.key] = v
        except Exception:  # noqa: BLE001 - the per-item visitor reports it, item by item
            return _SLOW
        if not changes:
            return None
        try:
            cache_key: tuple[Any, ...] | None = tuple((k, type(v), v) for k, v in changes.items())
            hash(cache_key)
        except TypeError:  # maps and slices: not cached
            cache_key = None
        if cache_key is not None:
            effect = self._effects.get(cache_key)
            if effect is not None:
                return effect
        effect = _Effect(changes)
        if cache_key is not None:
            if len(self._effects) >= _EFFECT_CACHE_SIZE:
                self._effects.clear()
            self._effects[cache_key] = effect
        return effect

    # --- the walk -----------------------------------------------------------------------------
    def run(self, data: bytes, visit: Callable[[Frame], None]) -> tuple[bytes | None, int]:
        """The rewritten request (None if nothing changed) and the number of the signal's items.
        `visit` is the group's per-item visitor, used for the items the fast path cannot decide."""
        walk = _Walk(self, data, visit)
        try:
            walk.request()
        except (IndexError, WireError) as exc:
            raise SpliceError(str(exc)) from exc
        return (b"".join(walk.out) if walk.changed else None), walk.count


class _Walk:
    """State of one `Splicer.run`: output pieces, the frame, the current effect."""

    def __init__(self, splicer: Splicer, data: bytes, visit: Callable[[Frame], None]) -> None:
        self.s = splicer
        self.data = data
        self.visit = visit
        self.out: list[bytes] = []
        self.count = 0
        self.changed = False
        self.f = Frame()
        self.f.slots = [None] * splicer.hoister.count
        self.effect: _Effect | object | None = None
        self.stale = True

    def _enter(self, level: int, message: Any) -> None:
        setattr(self.f, ("resource", "scope", "parent")[level - 1], message)
        if self.s.fills[level]:
            self.s.hoister.fill(self.f, level)
            self.stale = True

    def _current_effect(self) -> _Effect | object | None:
        if self.stale:
            self.effect = self.s._effect(self.f)
            self.stale = False
        return self.effect

    def _open(self, tag_bytes: bytes) -> int:
        """Reserve the header of a length-delimited field; `_close` fills it in."""
        self.out.append(tag_bytes)
        self.out.append(b"")
        return len(self.out)

    def _close(self, index: int, size: int) -> int:
        self.out[index - 1] = encode_varint(size)
        return len(self.out[index - 2]) + len(self.out[index - 1]) + size

    def _copy(self, start: int, stop: int) -> int:
        self.out.append(self.data[start:stop])
        return stop - start

    # request -> resource_x -> scope_x -> (parents ->) items; each returns the bytes it wrote
    def request(self) -> None:
        data = self.data
        for number, start, value, stop in _len_fields(data, 0, len(data)):
            if number == 1 and value >= 0:
                index = self._open(encode_varint(number << 3 | 2))
                self._close(index, self._resource(value, stop))
            else:
                self._copy(start, stop)

    def _resource(self, start: int, end: int) -> int:
        data = self.data
        fields = _len_fields(data, start, end)
        if self.s.has[RESOURCE]:
            raw = b"".join(data[v:e] for n, _, v, e in fields if n == 1 and v >= 0)
            self._enter(RESOURCE, Resource.FromString(raw))
        size = 0
        for number, fstart, value, stop in fields:
            if number == 2 and value >= 0:
                index = self._open(encode_varint(number << 3 | 2))
                size += self._close(index, self._scope(value, stop))
            else:
                size += self._copy(fstart, stop)
        return size

    def _scope(self, start: int, end: int) -> int:
        data = self.data
        if self.s.has[SCOPE]:
            raw = b"".join(data[v:e] for n, _, v, e in _len_fields(data, start, end) if n == 1 and v >= 0)
            self._enter(SCOPE, InstrumentationScope.FromString(raw))
        context = self.s.context
        if context == "span":
            return self._items(start, end, 2, trace_pb2.Span)
        if context == "log":
            return self._items(start, end, 2, logs_pb2.LogRecord)
        if context == "datapoint" and not self.s.has[PARENT]:
            effect = self._current_effect()
            if effect is not _SLOW:
                return self._metrics(start, end, effect)  # type: ignore[arg-type]
        size = 0
        for number, fstart, value, stop in _len_fields(data, start, end):
            if number == 2 and value >= 0:
                index = self._open(encode_varint(number << 3 | 2))
                inner = self._metric(value, stop) if context == "datapoint" else self._span(value, stop)
                size += self._close(index, inner)
            else:
                size += self._copy(fstart, stop)
        return size

    def _metric(self, start: int, end: int) -> int:
        data = self.data
        fields = _len_fields(data, start, end)
        if self.s.has[PARENT]:
            self._enter(PARENT, metrics_pb2.Metric.FromString(self._without_points(fields)))
        size = 0
        for number, fstart, value, stop in fields:
            cls = _POINTS.get(number)
            if cls is not None and value >= 0:
                index = self._open(encode_varint(number << 3 | 2))
                size += self._close(index, self._items(value, stop, 1, cls))
            else:
                size += self._copy(fstart, stop)
        return size

    def _without_points(self, fields: list[tuple[int, int, int, int]]) -> bytes:
        """The metric without its data points: what metric-level paths may read."""
        data = self.data
        parts = []
        for number, fstart, value, stop in fields:
            if number in _POINTS and value >= 0:
                inner = b"".join(data[s:e] for n, s, _, e in _len_fields(data, value, stop) if n != 1)
                parts.append(encode_varint(number << 3 | 2) + encode_varint(len(inner)) + inner)
            else:
                parts.append(data[fstart:stop])
        return b"".join(parts)

    def _span(self, start: int, end: int) -> int:
        data = self.data
        self.count += 1
        if self.s.has[PARENT]:
            raw = b"".join(data[s:e] for n, s, _, e in _len_fields(data, start, end) if n != _SPAN_EVENTS)
            self._enter(PARENT, trace_pb2.Span.FromString(raw))
        return self._items(start, end, _SPAN_EVENTS, trace_pb2.Span.Event, counted=False)

    def _items(self, start: int, end: int, item_field: int, cls: Any, counted: bool = True) -> int:
        """Copy the message in [start, end), appending the effect's attributes to each item in
        `item_field`."""
        data = self.data
        effect = self._current_effect()
        out = self.out
        first = len(out)
        item_tag = item_field << 3 | 2
        if effect is None:
            out.append(data[start:end])
            if counted:
                self.count += _count_items(data, start, end, item_tag)
            return end - start
        if effect is _SLOW:
            items = self._splice(start, end, item_tag, cls, b"", [], start, None, end)[0]
        else:
            assert isinstance(effect, _Effect)
            extra = effect.extra(_ATTRIBUTES[cls])
            needles = effect.needles
            hit = _first_hit(data, needles, start, end)
            headers = self.s.headers(item_tag, len(extra))
            items = self._splice(start, end, item_tag, cls, extra, headers, hit, needles, end)[0]
        if counted:
            self.count += items
        if items:
            self.changed = True
        return sum(map(len, out[first:]))

    def _metrics(self, start: int, end: int, effect: _Effect | None) -> int:
        """A ScopeMetrics whose effect is the same for all its metrics: one key search for the whole
        scope and the metric/data levels walked inline (many metrics with few points each are common)."""
        data = self.data
        out = self.out
        first = len(out)
        if effect is None:
            out.append(data[start:end])
            self.count += _count_scope_points(data, start, end)
            return end - start
        needles = effect.needles
        hit = _first_hit(data, needles, start, end)
        # the attributes fields of all point classes have one-byte tags: one header table serves all
        plans = {tag: (cls, effect.extra(attr)) for tag, (cls, attr) in _POINT_TAGS.items()}
        headers = self.s.headers(0x0A, len(plans[0x2A][1]))
        points = 0
        pos = start
        while pos < end:
            if data[pos] != 0x12:  # not a metric (scope, schema_url, unknown)
                stop = scan_field(data, pos, end)[3]
                out.append(data[pos:stop])
                pos = stop
                continue
            n = data[pos + 1]
            if n < 0x80:
                m_start = pos + 2
            else:
                n, m_start = read_varint(data, pos + 1)
            m_end = m_start + n
            out += (b"\x12", b"")
            m_first = len(out)
            p = m_start
            while p < m_end:
                tag = data[p]
                plan = plans.get(tag)
                if plan is None:  # name, description, unit, metadata
                    if (tag & 7) == 2 and tag < 0x80 and data[p + 1] < 0x80:
                        stop = p + 2 + data[p + 1]
                    else:
                        stop = scan_field(data, p, m_end)[3]
                    out.append(data[p:stop])
                    p = stop
                    continue
                cls, extra = plan
                n = data[p + 1]
                if n < 0x80:
                    c_start = p + 2
                else:
                    n, c_start = read_varint(data, p + 1)
                c_end = c_start + n
                if hit < c_start:
                    hit = _first_hit(data, needles, c_start, end)
                out += (data[p:p + 1], b"")
                c_first = len(out)
                found, hit = self._splice(c_start, c_end, 0x0A, cls, extra, headers, hit, needles, end)
                points += found
                out[c_first - 1] = encode_varint(sum(map(len, out[c_first:])))
                p = c_end
            if p != m_end:
                raise SpliceError("truncated metric")
            out[m_first - 1] = encode_varint(sum(map(len, out[m_first:])))
            pos = m_end
        if pos != end:
            raise SpliceError("truncated scope")
        self.count += points
        if points:
            self.changed = True
        return sum(map(len, out[first:]))

    def _splice(self, start: int, end: int, item_tag: int, cls: Any, extra: bytes, headers: list[bytes],
                hit: int, needles: list[bytes] | None, limit: int) -> tuple[int, int]:
        """The hot loop: copy [start, end) to `out`, each `item_tag` item with a new length prefix
        and `extra` appended; items reaching past `hit` (a key occurrence) go through the visitor,
        and the next occurrence is searched up to `limit`. Per item: one length read and three list
        entries. Returns (items, next hit)."""
        data = self.data
        out = self.out
        first = len(out)
        grow = len(extra)
        slow = other = 0
        pos = start
        while pos < end:
            if data[pos] == item_tag:
                n = data[pos + 1]
                if n < 0x80:
                    body = pos + 2
                else:
                    n, body = read_varint(data, pos + 1)
                stop = body + n
                if stop <= hit:
                    try:
                        out += (headers[n], data[body:stop], extra)
                    except IndexError:
                        out += (_header(headers, item_tag, grow, n), data[body:stop], extra)
                else:
                    if stop > end:
                        break
                    item = self._slow_item(cls, data[body:stop])
                    out += (bytes([item_tag]) + encode_varint(len(item)), item)
                    slow += 1
                    if needles is not None:
                        hit = _first_hit(data, needles, stop, limit)
                pos = stop
                continue
            number, wire, value, stop = scan_field(data, pos, end)
            if number == item_tag >> 3 and wire == 2:  # an item behind a non-canonical tag
                raise SpliceError("non-canonical item tag")
            out.append(data[pos:stop])
            other += 1
            pos = stop
        if pos != end:
            raise SpliceError("truncated item")
        items = (len(out) - first - 2 * slow - other) // 3 + slow
        # Collapse the pieces into one: cheaper than summing their lengths here and at every level above.
        chunk = b"".join(out[first:])
        del out[first:]
        out.append(chunk)
        return items, hit

    def _slow_item(self, cls: Any, raw: bytes) -> bytes:
        item = cls.FromString(raw)
        f = self.f
        f.item = item
        self.visit(f)
        self.changed = True  # conservatively: the visitor may have edited the item
        return item.SerializeToString()
