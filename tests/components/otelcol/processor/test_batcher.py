from __future__ import annotations

import pytest

from collector.signals import AckToken, Payload, Signal
from collector.components.otelcol.processor.batch.batcher import Batcher, CardinalityLimitError, split, take
from tests.signals import otlp_data as data


def span_names(payload: Payload) -> list[list[list[str]]]:
    return [[[s.name for s in ss.spans] for ss in rs.scope_spans] for rs in payload.message.resource_spans]


def all_span_names(parts: list[Payload]) -> list[str]:
    return [name for p in parts for rs in span_names(p) for ss in rs for name in ss]


TRACE_SPLITS = [
    # (shape, max, expected item counts per part)
    ([[3, 4], [5]], 4, [4, 4, 4]),  # cuts inside a scope, across scopes and across resources
    ([[3, 4], [5]], 12, [12]),  # exact max: untouched
    ([[3, 4], [5]], 7, [7, 5]),  # boundary falls on a resource boundary
    ([[3, 4], [5]], 3, [3, 3, 3, 3]),  # boundary on a scope boundary, then inside
    ([[3, 4], [5]], 5, [5, 5, 2]),  # remainder
    ([[10]], 1, [1] * 10),
    ([[0, 2], [], [2]], 2, [2, 2]),  # empty scopes and resources ride along
]


@pytest.mark.parametrize("shape,max_items,counts", TRACE_SPLITS)
def test_split_traces(shape: list[list[int]], max_items: int, counts: list[int]) -> None:
    original = data.traces(shape)
    token = AckToken(7)
    parts = split(data.payload(Signal.TRACES, original, token=token), max_items)
    assert [p.item_count for p in parts] == counts
    assert [Signal.TRACES.spec.count_items(p.message) for p in parts] == counts
    assert all_span_names(parts) == [f"span-{i}" for i in range(sum(counts))]
    # descriptors copied into every part
    for part in parts:
        for rs in part.message.resource_spans:
            assert rs.resource.attributes[0].key == "service.name"
            assert rs.schema_url.startswith("resource-schema-")
            for ss in rs.scope_spans:
                assert ss.scope.name.startswith("scope-") and ss.schema_url.startswith("scope-schema-")
    # the token is shared: released only after every part is settled
    assert token.refs == len(parts)
    for part in parts:
        assert not token.released
        part.settle()
    assert token.released


def test_split_keeps_resource_and_scope_of_a_cut_node() -> None:
    parts = split(data.payload(Signal.TRACES, data.traces([[2, 3], [4]])), 3)
    assert [span_names(p) for p in parts] == [
        [[["span-0", "span-1"], ["span-2"]]],
        [[["span-3", "span-4"]], [["span-5"]]],
        [[["span-6", "span-7", "span-8"]]],
    ]
    assert parts[1].message.resource_spans[0].scope_spans[0].scope.name == "scope-0-1"
    assert parts[1].message.resource_spans[1].resource.attributes[0].value.string_value == "service-1"


def test_split_logs() -> None:
    parts = split(data.payload(Signal.LOGS, data.logs([[2], [3, 1]])), 4)
    assert [p.item_count for p in parts] == [4, 2]
    bodies = [r.body.string_value for p in parts for rl in p.message.resource_logs
              for sl in rl.scope_logs for r in sl.log_records]
    assert bodies == [f"log-{i}" for i in range(6)]


def metric_rows(payload: Payload) -> list[tuple[str, str, bool, int, list[int]]]:
    rows = []
    for rm in payload.message.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                container = getattr(m, kind)
                values = [p.as_int if kind != "histogram" else p.count for p in container.data_points]
                temporality = getattr(container, "aggregation_temporality", 0)
                rows.append((m.name, kind, getattr(container, "is_monotonic", False), temporality, values))
    return rows


def test_split_metrics_inside_a_metric_copies_its_descriptor() -> None:
    # metric-0 sum(3), metric-1 gauge(2) | metric-2 histogram(4) ; resource 2: metric-3 sum(5)
    payload = data.payload(Signal.METRICS, data.metrics([[[3, 2], [4]], [[5]]]))
    parts = split(payload, 4)
    assert [p.item_count for p in parts] == [4, 4, 4, 2]
    assert [metric_rows(p) for p in parts] == [
        [("metric-0", "sum", True, 2, [0, 1, 2]), ("metric-1", "gauge", False, 0, [3])],
        [("metric-1", "gauge", False, 0, [4]), ("metric-2", "histogram", False, 2, [5, 6, 7])],
        [("metric-2", "histogram", False, 2, [8]), ("metric-3", "sum", True, 2, [9, 10, 11])],
        [("metric-3", "sum", True, 2, [12, 13])],
    ]
    for part in parts:
        for rm in part.message.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    assert m.unit == "1" and m.description == "test metric"


def test_split_returns_the_payload_itself_when_it_fits() -> None:
    payload = data.payload(Signal.TRACES, data.traces([[5]]))
    assert split(payload, 5) == [payload]
    assert split(payload, 0) == [payload]
    assert not payload.is_decoded


def test_take_head_and_rest() -> None:
    token = AckToken(1)
    head, rest = take(data.payload(Signal.TRACES, data.traces([[3, 4]]), token=token), 5)
    assert rest is not None
    assert (head.item_count, rest.item_count) == (5, 2)
    assert all_span_names([head, rest]) == [f"span-{i}" for i in range(7)]
    assert token.refs == 2


# --- Batcher --------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def traces_of(n: int, token: AckToken | None = None, metadata: tuple[tuple[str, str], ...] = ()) -> Payload:
    return data.payload(Signal.TRACES, data.traces([[n]]), token=token, metadata=metadata)


def make_batcher(clock: FakeClock, size: int = 10, max_size: int = 0, timeout: float = 1.0, **kw: object) -> Batcher:
    return Batcher(send_batch_size=size, send_batch_max_size=max_size, timeout=timeout, clock=clock, **kw)  # type: ignore[arg-type]


def test_size_trigger_without_max_sends_everything_buffered() -> None:
    clock = FakeClock()
    batcher = make_batcher(clock, size=10)
    assert batcher.add(traces_of(6)) == []
    ready = batcher.add(traces_of(7))
    assert [(b.payload.item_count, b.trigger) for b in ready] == [(13, "size")]
    assert batcher.buffered_items == 0 and batcher.next_deadline() is None


def test_max_size_splits_and_remainder_waits_for_the_timeout() -> None:
    clock = FakeClock()
    batcher = make_batcher(clock, size=10, max_size=12, timeout=1.0)
    batcher.add(traces_of(6))
    ready = batcher.add(traces_of(25))
    assert [b.payload.item_count for b in ready] == [12, 12]
    assert batcher.buffered_items == 7
    assert all_span_names([b.payload for b in ready]) == [f"span-{i}" for i in range(6)] + [
        f"span-{i}" for i in range(18)]
    assert batcher.next_deadline() == pytest.approx(101.0)
    clock.now = 100.5
    assert batcher.due() == []
    clock.now = 101.0
    due = batcher.due()
    assert [(b.payload.item_count, b.trigger) for b in due] == [(7, "timeout")]


def test_timeout_counts_from_first_item() -> None:
    clock = FakeClock()
    batcher = make_batcher(clock, size=100, timeout=0.2)
    batcher.add(traces_of(1))
    clock.now += 0.1
    batcher.add(traces_of(1))
    assert batcher.next_deadline() == pytest.approx(100.2)
    clock.now = 100.2
    assert [b.payload.item_count for b in batcher.due()] == [2]


def test_timeout_zero_sends_immediately_cut_to_max() -> None:
    batcher = make_batcher(FakeClock(), size=100, max_size=4, timeout=0)
    ready = batcher.add(traces_of(10))
    assert [b.payload.item_count for b in ready] == [4, 4, 2]
    assert batcher.buffered_items == 0


def test_merge_concatenates_bytes_without_decoding() -> None:
    batcher = make_batcher(FakeClock(), size=5)
    first, second = traces_of(2), traces_of(3)
    ready = batcher.add(first) + batcher.add(second)
    merged = ready[0].payload
    assert merged.data == first.data + second.data
    assert not merged.is_decoded and not first.is_decoded


def test_ack_tokens_travel_with_batches() -> None:
    tokens = [AckToken(i) for i in range(3)]
    batcher = make_batcher(FakeClock(), size=5, max_size=5)
    ready = []
    for token in tokens:
        ready += batcher.add(traces_of(4, token))
    ready += batcher.flush_all()
    assert [b.payload.item_count for b in ready] == [5, 5, 2]
    for batch in ready:
        batch.payload.settle()
    assert all(t.released for t in tokens)


def test_empty_payload_is_settled_not_buffered() -> None:
    token = AckToken(1)
    batcher = make_batcher(FakeClock())
    assert batcher.add(data.payload(Signal.TRACES, data.traces([[0]]), token=token)) == []
    assert token.released and batcher.next_deadline() is None


def test_metadata_keys_separate_buffers_and_limit_cardinality() -> None:
    clock = FakeClock()
    batcher = make_batcher(clock, size=4, metadata_keys=("X-Tenant",), metadata_cardinality_limit=2)
    assert batcher.add(traces_of(3, metadata=(("x-tenant", "a"),))) == []
    assert batcher.add(traces_of(3, metadata=(("x-tenant", "b"),))) == []
    with pytest.raises(CardinalityLimitError):
        batcher.add(traces_of(1, metadata=(("x-tenant", "c"),)))
    ready = batcher.add(traces_of(1, metadata=(("x-tenant", "a"),)))
    assert [(b.payload.item_count, b.payload.metadata) for b in ready] == [(4, (("x-tenant", "a"),))]
    assert batcher.metadata_cardinality(Signal.TRACES) == 2


def test_signals_have_separate_buffers() -> None:
    batcher = make_batcher(FakeClock(), size=3)
    assert batcher.add(traces_of(2)) == []
    assert batcher.add(data.payload(Signal.LOGS, data.logs([[2]]))) == []
    ready = batcher.add(data.payload(Signal.LOGS, data.logs([[1]])))
    assert [(b.payload.signal, b.payload.item_count) for b in ready] == [(Signal.LOGS, 3)]
