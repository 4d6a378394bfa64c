from __future__ import annotations

import asyncio

import pytest

from collector.components.kit.api import ArgumentError, EvalContext, MetricsReceiverRef
from collector.components.prometheus.relabel import Arguments, PrometheusRelabel, RelabelCache
from collector.protocols.prometheus.relabel import Rule, compile_rules
from collector.protocols.prometheus.series import STALE_NAN, Exemplar, SampleBatch, Series
from collector.testing.context import build_context

T = 1_700_000_000_000


class Collect:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []

    async def append(self, batch: SampleBatch) -> None:
        self.batches.append(batch)


def make(rules: list[Rule], sink: Collect, **kw: object) -> PrometheusRelabel:
    args = Arguments(forward_to=[MetricsReceiverRef("sink")], rule=rules, **kw)  # type: ignore[arg-type]
    args.validate()
    return PrometheusRelabel(build_context(PrometheusRelabel, "prometheus.relabel.t", consumers={"sink": sink}), args)


def test_keep_rule_filters_and_rewrites_forwarded_series() -> None:
    sink = Collect()
    component = make([Rule(source_labels=["__name__"], regex="(up|scrape_.*)", action="keep"),
                      Rule(target_label="env", replacement="prod")], sink)
    up, go = Series({"__name__": "up", "job": "x"}), Series({"__name__": "go_goroutines", "job": "x"})
    batch = SampleBatch()
    batch.append(up, 1.0, T)
    batch.append(go, 9.0, T)
    batch.append(up, 1.0, T + 1)
    batch.exemplars.append(Exemplar(2, (("trace_id", "ab"),), 1.0, T))
    asyncio.run(component.append(batch))
    [out] = sink.batches
    assert [(s.labels, v, t) for s, v, t in out.rows()] == [
        ((("__name__", "up"), ("env", "prod"), ("job", "x")), 1.0, T),
        ((("__name__", "up"), ("env", "prod"), ("job", "x")), 1.0, T + 1),
    ]
    assert out.series[0] is out.series[1]  # cached result reused
    assert out.exemplars == [Exemplar(1, (("trace_id", "ab"),), 1.0, T)]
    assert len(batch) == 3  # input batch untouched
    assert component.cache.hits == 1 and component.cache.misses == 2


def test_unchanged_series_forwarded_as_same_object_and_empty_label_sets_dropped() -> None:
    sink = Collect()
    component = make([Rule(regex="job", action="labeldrop")], sink)
    keep, empty = Series({"__name__": "a", "job": "x"}), Series({"job": "y"})
    batch = SampleBatch()
    batch.append(keep, 1.0, T)
    batch.append(empty, 1.0, T)
    out = component.relabel(batch)
    assert [s.labels for s in out.series] == [(("__name__", "a"),)]
    same = make([], Collect()).relabel(batch)
    assert same.series[0] is keep


def test_stale_marker_evicts_cache_entry() -> None:
    component = make([], Collect())
    s = Series({"__name__": "a"})
    batch = SampleBatch()
    batch.append(s, STALE_NAN, T)
    component.relabel(batch)
    assert s not in component.cache.entries


def test_cache_bounded_by_size_and_ttl() -> None:
    cache = RelabelCache(compile_rules([]), 2, 0)
    series = [Series({"__name__": f"s{i}"}) for i in range(3)]
    for s in series:
        cache.lookup(s)
    assert list(cache.entries) == series[1:]
    now = [0.0]
    ttl = RelabelCache(compile_rules([]), 0, 10, clock=lambda: now[0])
    ttl.lookup(series[0])
    now[0] = 5
    ttl.lookup(series[0])
    assert ttl.hits == 1
    now[0] = 11
    ttl.lookup(series[0])
    assert ttl.misses == 2


def test_exports_and_validation() -> None:
    rules = [Rule(target_label="a", replacement="b")]
    args = Arguments(forward_to=[], rule=rules)
    exports = PrometheusRelabel.exports(EvalContext("prometheus.relabel.x"), args)
    assert str(exports.receiver) == "prometheus.relabel.x.receiver"
    assert exports.rules == rules
    with pytest.raises(ArgumentError) as err:
        Arguments(forward_to=[], rule=[Rule(action="hashmod", target_label="x")]).validate()
    assert err.value.attribute == "rule.modulus"
    with pytest.raises(ArgumentError):
        Arguments(forward_to=[], max_cache_size=0).validate()
