"""OTLP metrics -> Prometheus samples (protocols.md §6.3-6.5, alloy.md B.11).

Theory of operation: everything about a series except its value and timestamp is stable between
pushes, so it is computed once and cached in a tree that mirrors the request:

    resource (serialized Resource bytes) -> scope (serialized scope bytes)
      -> metric (name, unit, type) -> point (the data point's serialized attribute bytes) -> Series

Resource-level work (job/instance, target_info) happens once per resource per request and scope
labels once per scope; per data point the translator serializes the point (upb, C), slices out its
attribute bytes as the cache key and appends cached `Series` references plus values to the output
columns. Attribute decoding, name normalisation, label sorting and protobuf encoding of labels only
happen when a series is seen for the first time.

Per series the translator remembers the last timestamp written and skips points that are not newer,
so a writer never emits out-of-order or duplicate samples.

Expiry, in two steps, so memory follows the load without changing what is written:
- the point caches are generational (`expiry.Generations`; the component calls `rotate()` every
  `expiry.GENERATION` seconds): a point entry (labels, `Series`, histogram layouts: the memory) not
  used for about a minute is retired, and only its last timestamp is kept, in a small per-metric
  table. A retired series that comes back is rebuilt and gets its last timestamp back, so the
  out-of-order check is the same as if the entry had stayed.
- `gc()` (the component calls it every `gc_frequency`, as Alloy does) forgets what was not seen for
  `STALE_AFTER` seconds: retired last timestamps, then empty metrics, scopes and resources.
"""

from __future__ import annotations

import array
import bisect
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Final

from collector.protocols.prometheus.expiry import DEPTH, GENERATION, Generations
from collector.protocols.prometheus.naming import MetricKind, attributes_to_labels, metric_name
from collector.protocols.prometheus.series import (
    STALE_NAN,
    Exemplar,
    Metadata,
    MetricType,
    SampleBatch,
    Series,
)
from collector.protocols.wire import WireError, as_string, encode_varint, format_f, scan_field

STALE_AFTER: Final = 300.0
assert GENERATION * (DEPTH + 1) < STALE_AFTER, "live point entries must always be younger than STALE_AFTER"
_NEVER: Final = -(1 << 63)
_NO_RECORDED_VALUE: Final = 1
_CUMULATIVE: Final = 2  # AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
_IDENTIFYING: Final = frozenset({"service.name", "service.namespace", "service.instance.id"})
# tag byte of the `attributes` field in each data point message
_ATTR_TAG_NUMBER: Final = 0x3A  # NumberDataPoint.attributes = 7
_ATTR_TAG_HISTOGRAM: Final = 0x4A  # HistogramDataPoint.attributes = 9
_ATTR_TAG_SUMMARY: Final = 0x3A  # SummaryDataPoint.attributes = 7


@dataclass(frozen=True, slots=True)
class TranslateOptions:
    include_target_info: bool = True
    include_scope_info: bool = False
    include_scope_labels: bool = True
    add_metric_suffixes: bool = True
    resource_to_telemetry_conversion: bool = False
    keep_identifying_resource_attributes: bool = False


@dataclass(slots=True)
class TranslateStats:
    """What one `translate()` call did; the component turns drops into self-metrics."""

    points: int = 0
    samples: int = 0
    dropped_delta: int = 0
    dropped_exponential_histogram: int = 0
    dropped_invalid_name: int = 0
    dropped_unspecified: int = 0
    skipped_out_of_order: int = 0

    @property
    def dropped(self) -> int:
        return (self.dropped_delta + self.dropped_exponential_histogram + self.dropped_invalid_name
                + self.dropped_unspecified)


def attributes_key(data: bytes, tag: int) -> bytes:
    """The bytes of a serialized data point's `attributes` entries: a cheap identity for its label set.

    upb writes fields in field-number order, so the repeated attribute entries are contiguous; if they
    were not, the slice would merely include other fields too (still a correct, if less reusable, key).
    """
    start = end = -1
    pos, n = 0, len(data)
    try:
        while pos < n:
            number, wire, _, stop = scan_field(data, pos, n)
            if number << 3 | wire == tag:
                if start < 0:
                    start = pos
                end = stop
            pos = stop
    except (WireError, IndexError):  # not protobuf we can slice: the whole point is still a correct key
        return data
    return data[start:end] if start >= 0 else b""


def point_key(data: bytes, tag: int, trailing: int) -> bytes:
    """`attributes_key` for a data point whose fields after `attributes` take the last `trailing`
    bytes: skips the fields in front (fixed64s, short length-delimited ones) and slices, without
    walking the attribute entries. Anything unusual goes to the general `attributes_key`."""
    i = 0
    n = len(data)
    while i < n:
        t = data[i]
        if t == tag:
            return data[i:n - trailing]
        wire = t & 7
        if wire == 1 and t < 0x80:
            i += 9
        elif wire == 2 and t < 0x80 and i + 1 < n and data[i + 1] < 0x80:
            i += 2 + data[i + 1]
        else:
            return attributes_key(data, tag)
    return b""


def _flags_bytes(flags: int) -> int:
    """Size of a serialized `flags` field (0 when it is zero: proto3 leaves it out)."""
    return 1 + len(encode_varint(flags)) if flags else 0


class _Point:
    """Cached series of one data point identity; histogram/summary points own several series."""

    __slots__ = ("series", "last_ts", "bounds", "buckets", "inf", "sum", "count", "quantiles", "labels",
                 "layouts")

    def __init__(self, labels: dict[str, str], last_ts: int) -> None:
        self.labels = tuple(labels.items())  # pairs shared by every series of the point (`_named`)
        self.series: Series | None = None
        self.last_ts = last_ts
        self.bounds: list[float] | None = None
        self.buckets: list[Series] = []
        self.inf: Series | None = None
        self.sum: Series | None = None
        self.count: Series | None = None
        self.quantiles: dict[float, Series] = {}
        # histogram: (buckets written, has sum) -> the point's series in output order
        self.layouts: dict[tuple[int, bool], list[Series]] = {}


class _Retired:
    """The last timestamps written for the points one `rotate()` retired, not used since `since`.

    Packed into a few large buffers (hashes, timestamps, key offsets, the keys joined) instead of a
    dict of small objects: the allocator can give back the memory the retired entries used only if
    no small object of the table is left among it (pymalloc frees an arena, glibc a page, only once
    it is empty). Looked up only when a series comes back: binary search on the key's hash."""

    __slots__ = ("since", "_hashes", "_ts", "_offsets", "_keys")

    def __init__(self, since: float, points: dict[bytes, _Point]) -> None:
        entries = sorted((hash(key), key, point.last_ts) for key, point in points.items())
        self.since = since
        self._hashes = array.array("q", [h for h, _, _ in entries])
        self._ts = array.array("q", [ts for _, _, ts in entries])
        self._offsets = array.array("Q", itertools.accumulate((len(key) for _, key, _ in entries), initial=0))
        self._keys = b"".join([key for _, key, _ in entries])

    def get(self, key: bytes) -> int | None:
        h = hash(key)
        hashes, offsets = self._hashes, self._offsets
        i = bisect.bisect_left(hashes, h)
        while i < len(hashes) and hashes[i] == h:
            if self._keys[offsets[i]:offsets[i + 1]] == key:
                return self._ts[i]
            i += 1
        return None

    def __len__(self) -> int:
        return len(self._hashes)


class _Metric:
    __slots__ = ("name", "kind", "points", "metadata", "retired")

    def __init__(self, name: str, kind: MetricKind, metadata: Metadata) -> None:
        self.name = name
        self.kind = kind
        self.points: Generations[bytes, _Point] = Generations()
        self.metadata = metadata
        self.retired: list[_Retired] = []  # oldest first

    def last_ts(self, key: bytes) -> int:
        """The last timestamp written for a retired point (which is now coming back), or `_NEVER`.
        A point that came back stays in its table; one retired again is in a newer table, which wins."""
        for table in reversed(self.retired):
            ts = table.get(key)
            if ts is not None:
                return ts
        return _NEVER

    def rotate(self, now: float) -> None:
        since, expired = self.points.rotate(now)
        if expired:
            self.retired.append(_Retired(since, expired))


class _Scope:
    __slots__ = ("labels", "metrics", "info", "info_last_ts")

    def __init__(self, labels: dict[str, str], info: Series | None) -> None:
        self.labels = labels
        self.metrics: dict[tuple[str, str, str, bool], _Metric] = {}
        self.info = info
        self.info_last_ts = -(1 << 63)


class _Resource:
    __slots__ = ("base", "identity", "target_info", "target_last_ts", "scopes", "seen")

    def __init__(self, base: dict[str, str], identity: dict[str, str], target_info: Series | None) -> None:
        self.base = base  # labels every series of the resource gets before its own attributes
        self.identity = identity  # job / instance: they override data point attributes
        self.target_info = target_info
        self.target_last_ts = -(1 << 63)
        self.scopes: dict[bytes, _Scope] = {}
        self.seen = 0.0


_TYPE_OF_KIND: Final = {
    MetricKind.GAUGE: MetricType.GAUGE,
    MetricKind.MONOTONIC_COUNTER: MetricType.COUNTER,
    MetricKind.NON_MONOTONIC_COUNTER: MetricType.GAUGE,
    MetricKind.HISTOGRAM: MetricType.HISTOGRAM,
    MetricKind.SUMMARY: MetricType.SUMMARY,
}


@dataclass
class Translator:
    """Stateful OTLP -> Prometheus converter (one per `otelcol.exporter.prometheus` instance)."""

    options: TranslateOptions = field(default_factory=TranslateOptions)
    clock: Any = time.monotonic
    _resources: dict[bytes, _Resource] = field(default_factory=dict)

    # --- cache construction (first sight of a resource / scope / metric / point) ----------------
    def _resource(self, resource: Any) -> _Resource:
        attrs = {kv.key: kv.value for kv in resource.attributes}
        identity: dict[str, str] = {}
        name = as_string(attrs["service.name"]) if "service.name" in attrs else ""
        namespace = as_string(attrs["service.namespace"]) if "service.namespace" in attrs else ""
        if name:
            identity["job"] = f"{namespace}/{name}" if namespace else name
        if "service.instance.id" in attrs:
            instance = as_string(attrs["service.instance.id"])
            if instance:
                identity["instance"] = instance
        base: dict[str, str] = {}
        if self.options.resource_to_telemetry_conversion:
            base = attributes_to_labels(resource.attributes)
        target_info = None
        if self.options.include_target_info and any(k not in _IDENTIFYING for k in attrs):
            keep = self.options.keep_identifying_resource_attributes
            info_attrs = [kv for kv in resource.attributes if keep or kv.key not in _IDENTIFYING]
            labels = attributes_to_labels(info_attrs)
            labels.update(identity)
            labels["__name__"] = "target_info"
            target_info = Series(labels)
        return _Resource(base, identity, target_info)

    def _scope(self, res: _Resource, scope: Any) -> _Scope:
        labels: dict[str, str] = {}
        if self.options.include_scope_labels:
            if scope.name:
                labels["otel_scope_name"] = scope.name
            if scope.version:
                labels["otel_scope_version"] = scope.version
        info = None
        if self.options.include_scope_info and scope.name:
            info_labels = attributes_to_labels(scope.attributes)
            info_labels["otel_scope_name"] = scope.name
            if scope.version:
                info_labels["otel_scope_version"] = scope.version
            info_labels.update(res.identity)
            info_labels["__name__"] = "otel_scope_info"
            info = Series(info_labels)
        return _Scope(labels, info)

    def _point(self, res: _Resource, scope: _Scope, entry: _Metric, key: bytes, attributes: Any) -> _Point:
        """A new cache entry for a point not in `entry.points` (first sight, or back after retirement)."""
        labels = dict(res.base)
        labels.update(attributes_to_labels(attributes))
        labels.update(scope.labels)
        labels.update(res.identity)
        point = entry.points.young[key] = _Point(labels, entry.last_ts(key) if entry.retired else _NEVER)
        return point

    @staticmethod
    def _named(labels: tuple[tuple[str, str], ...], name: str, extra: tuple[tuple[str, str], ...] = ()) -> Series:
        """The point's labels with `extra` and the name (both win over a same-named attribute),
        sharing the point's label pairs."""
        replaced = ("__name__", *(key for key, _ in extra))
        pairs = [pair for pair in labels if pair[0] not in replaced]
        pairs.extend(extra)
        pairs.append(("__name__", name))
        return Series(pairs)

    # --- translation ---------------------------------------------------------------------------
    def translate(self, request: Any, stats: TranslateStats | None = None) -> SampleBatch:
        """Convert a decoded `ExportMetricsServiceRequest`; `stats` (if given) accumulates counts."""
        stats = stats if stats is not None else TranslateStats()
        now = self.clock()
        batch = SampleBatch()
        opts = self.options
        suffixes = opts.add_metric_suffixes
        for rm in request.resource_metrics:
            rkey = rm.resource.SerializeToString()
            res = self._resources.get(rkey)
            if res is None:
                res = self._resources[rkey] = self._resource(rm.resource)
            res.seen = now
            newest = -1
            for sm in rm.scope_metrics:
                skey = sm.scope.SerializeToString()
                scope = res.scopes.get(skey)
                if scope is None:
                    scope = res.scopes[skey] = self._scope(res, sm.scope)
                scope_newest = -1
                for metric in sm.metrics:
                    case = metric.WhichOneof("data")
                    if case is None:
                        stats.dropped_unspecified += 1
                        continue
                    data = getattr(metric, case)
                    npoints = len(data.data_points)
                    stats.points += npoints
                    if case == "gauge":
                        kind = MetricKind.GAUGE
                    elif case == "sum":
                        if data.aggregation_temporality != _CUMULATIVE:
                            stats.dropped_delta += npoints
                            continue
                        kind = MetricKind.MONOTONIC_COUNTER if data.is_monotonic else MetricKind.NON_MONOTONIC_COUNTER
                    elif case == "histogram":
                        if data.aggregation_temporality != _CUMULATIVE:
                            stats.dropped_delta += npoints
                            continue
                        kind = MetricKind.HISTOGRAM
                    elif case == "summary":
                        kind = MetricKind.SUMMARY
                    else:  # exponential_histogram: native histograms are not enabled
                        stats.dropped_exponential_histogram += npoints
                        continue
                    mkey = (metric.name, metric.unit, case, kind is MetricKind.MONOTONIC_COUNTER)
                    entry = scope.metrics.get(mkey)
                    if entry is None:
                        base = metric_name(metric.name, metric.unit, kind, suffixes)
                        if base is None:
                            stats.dropped_invalid_name += npoints
                            continue
                        meta = Metadata(base, _TYPE_OF_KIND[kind], metric.description, metric.unit)
                        entry = scope.metrics[mkey] = _Metric(base, kind, meta)
                    batch.metadata.append(entry.metadata)
                    if kind is MetricKind.HISTOGRAM:
                        latest = self._histogram(res, scope, entry, data.data_points, batch, stats)
                    elif kind is MetricKind.SUMMARY:
                        latest = self._summary(res, scope, entry, data.data_points, batch, stats)
                    else:
                        latest = self._number(res, scope, entry, data.data_points, batch, stats)
                    if latest > scope_newest:
                        scope_newest = latest
                if scope.info is not None and scope_newest > scope.info_last_ts:
                    scope.info_last_ts = scope_newest
                    batch.append(scope.info, 1.0, scope_newest)
                if scope_newest > newest:
                    newest = scope_newest
            if res.target_info is not None and newest > res.target_last_ts:
                res.target_last_ts = newest
                batch.append(res.target_info, 1.0, newest)
        stats.samples += len(batch)
        return batch

    def _number(self, res: _Resource, scope: _Scope, entry: _Metric, points: Any, batch: SampleBatch,
                stats: TranslateStats) -> int:
        cache = entry.points.young
        series_out = batch.series
        values_out = batch.values
        ts_out = batch.timestamps_ms
        exemplars_ok = entry.kind is MetricKind.MONOTONIC_COUNTER
        newest = -1
        for dp in points:
            flags = dp.flags
            key = point_key(dp.SerializeToString(), _ATTR_TAG_NUMBER, _flags_bytes(flags)) if dp.attributes else b""
            point = cache.get(key)
            if point is None:
                point = entry.points.recall(key)
                if point is None:
                    point = self._point(res, scope, entry, key, dp.attributes)
                    point.series = self._named(point.labels, entry.name)
            ts = dp.time_unix_nano // 1_000_000
            if ts <= point.last_ts:
                stats.skipped_out_of_order += 1
                continue
            point.last_ts = ts
            if ts > newest:
                newest = ts
            if exemplars_ok and dp.exemplars:
                _add_exemplars(batch, len(values_out), dp.exemplars)
            series_out.append(point.series)  # type: ignore[arg-type]
            values_out.append(STALE_NAN if flags & _NO_RECORDED_VALUE else (dp.as_double or float(dp.as_int)))
            ts_out.append(ts)
        return newest

    def _histogram(self, res: _Resource, scope: _Scope, entry: _Metric, points: Any, batch: SampleBatch,
                   stats: TranslateStats) -> int:
        cache = entry.points.young
        newest = -1
        name = entry.name
        series_out = batch.series
        values_out = batch.values
        ts_out = batch.timestamps_ms
        for dp in points:
            flags = dp.flags
            if dp.attributes:
                has_min = dp.HasField("min")
                has_max = dp.HasField("max")
                trailing = _flags_bytes(flags) + 9 * has_min + 9 * has_max
                key = point_key(dp.SerializeToString(), _ATTR_TAG_HISTOGRAM, trailing)
            else:
                key = b""
            point = cache.get(key)
            if point is None:
                point = entry.points.recall(key)
                if point is None:
                    point = self._point(res, scope, entry, key, dp.attributes)
                    point.inf = self._named(point.labels, name + "_bucket", (("le", "+Inf"),))
                    point.sum = self._named(point.labels, name + "_sum")
                    point.count = self._named(point.labels, name + "_count")
            ts = dp.time_unix_nano // 1_000_000
            if ts <= point.last_ts:
                stats.skipped_out_of_order += 1
                continue
            point.last_ts = ts
            if ts > newest:
                newest = ts
            bounds = dp.explicit_bounds
            counts = dp.bucket_counts
            if point.bounds is None or bounds != point.bounds:  # upb compares its container with a list
                point.bounds = list(bounds)
                point.buckets = [self._named(point.labels, name + "_bucket", (("le", format_f(b)),))
                                 for b in bounds]
                point.layouts = {}
            nb = min(len(bounds), len(counts))
            has_sum = dp.HasField("sum")
            layout = point.layouts.get((nb, has_sum))
            if layout is None:
                tail = [point.inf, point.sum, point.count] if has_sum else [point.inf, point.count]
                layout = point.layouts[(nb, has_sum)] = point.buckets[:nb] + tail  # type: ignore[operator]
            base_index = len(values_out)
            series_out.extend(layout)
            if flags & _NO_RECORDED_VALUE:
                values_out.extend([STALE_NAN] * len(layout))
            else:
                if nb:
                    values_out.extend(map(float, itertools.accumulate(counts[:nb])))
                count = float(dp.count)
                values_out.extend((count, dp.sum, count) if has_sum else (count, count))
            ts_out.extend([ts] * len(layout))
            if dp.exemplars:
                for ex in dp.exemplars:
                    value = ex.as_double or float(ex.as_int)
                    slot = bisect.bisect_left(point.bounds, value)
                    index = base_index + slot if slot < nb else base_index + nb  # else: the +Inf bucket
                    _add_exemplars(batch, index, (ex,))
        return newest

    def _summary(self, res: _Resource, scope: _Scope, entry: _Metric, points: Any, batch: SampleBatch,
                 stats: TranslateStats) -> int:
        cache = entry.points.young
        newest = -1
        name = entry.name
        for dp in points:
            key = attributes_key(dp.SerializeToString(), _ATTR_TAG_SUMMARY) if dp.attributes else b""
            point = cache.get(key)
            if point is None:
                point = entry.points.recall(key)
                if point is None:
                    point = self._point(res, scope, entry, key, dp.attributes)
                    point.sum = self._named(point.labels, name + "_sum")
                    point.count = self._named(point.labels, name + "_count")
            ts = dp.time_unix_nano // 1_000_000
            if ts <= point.last_ts:
                stats.skipped_out_of_order += 1
                continue
            point.last_ts = ts
            if ts > newest:
                newest = ts
            stale = dp.flags & _NO_RECORDED_VALUE
            for qv in dp.quantile_values:
                q = qv.quantile
                series = point.quantiles.get(q)
                if series is None:
                    series = point.quantiles[q] = self._named(point.labels, name, (("quantile", format_f(q)),))
                batch.append(series, STALE_NAN if stale else qv.value, ts)
            batch.append(point.sum, STALE_NAN if stale else dp.sum, ts)  # type: ignore[arg-type]
            batch.append(point.count, STALE_NAN if stale else float(dp.count), ts)  # type: ignore[arg-type]
        return newest

    # --- housekeeping --------------------------------------------------------------------------
    def _metrics(self) -> list[_Metric]:
        return [m for r in self._resources.values() for s in r.scopes.values() for m in s.metrics.values()]

    def rotate(self, now: float | None = None) -> int:
        """Start a new cache generation (module docstring): point entries not used for `expiry.DEPTH`
        generations are retired, keeping only their last timestamp; returns how many went."""
        now = self.clock() if now is None else now
        before = self.retired_points
        for metric in self._metrics():
            metric.rotate(now)
        return self.retired_points - before

    def gc(self, now: float | None = None, stale_after: float = STALE_AFTER) -> int:
        """Forget series not seen for `stale_after` seconds (Alloy's `gc_frequency` sweep); returns
        how many went. Only retired points can be that old: live entries were used within the last
        `expiry.DEPTH + 1` generations."""
        now = self.clock() if now is None else now
        limit = now - stale_after
        removed = 0
        for rkey, res in list(self._resources.items()):
            for skey, scope in list(res.scopes.items()):
                for mkey, metric in list(scope.metrics.items()):
                    removed += sum(len(table) for table in metric.retired if table.since < limit)
                    metric.retired = [table for table in metric.retired if table.since >= limit]
                    if not metric.points and not metric.retired:
                        del scope.metrics[mkey]
                if not scope.metrics:
                    del res.scopes[skey]
            if not res.scopes and res.seen < limit:
                del self._resources[rkey]
        return removed

    @property
    def cached_points(self) -> int:
        """Point entries held in full (labels and `Series`)."""
        return sum(len(m.points) for m in self._metrics())

    @property
    def retired_points(self) -> int:
        """Last timestamps held for retired points (a point that came back stays counted until its
        table expires)."""
        return sum(len(table) for m in self._metrics() for table in m.retired)


def _add_exemplars(batch: SampleBatch, index: int, exemplars: Any) -> None:
    for ex in exemplars:
        labels = []
        if ex.span_id:
            labels.append(("span_id", ex.span_id.hex()))
        if ex.trace_id:
            labels.append(("trace_id", ex.trace_id.hex()))
        batch.exemplars.append(Exemplar(index, tuple(labels), ex.as_double or float(ex.as_int),
                                        ex.time_unix_nano // 1_000_000))
