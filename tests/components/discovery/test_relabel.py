from __future__ import annotations

import pytest

from collector.components.kit.api import ArgumentError, EvalContext
from collector.components.discovery.relabel import Arguments, DiscoveryRelabel
from collector.components.prometheus.exporter.self import Arguments as SelfArguments
from collector.components.prometheus.exporter.self import SelfExporter
from collector.components.kit.registry import lookup
from collector.components.kit.api import Placement
from collector.protocols.prometheus.relabel import Rule


def test_self_monitoring_example_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTNAME", "box-1")
    ctx = EvalContext("prometheus.exporter.self.collector", http_listen_addr="127.0.0.1:12345")
    [target] = SelfExporter.exports(ctx, SelfArguments()).targets
    assert target == {
        "__address__": "127.0.0.1:12345",
        "__scheme__": "http",
        "__metrics_path__": "/api/v0/component/prometheus.exporter.self.collector/metrics",
        "job": "integrations/self",
        "instance": "box-1",
        "__meta_component_name": "prometheus.exporter.self",
        "__meta_component_id": "prometheus.exporter.self.collector",
    }
    args = Arguments(targets=[target], rule=[
        Rule(target_label="instance", replacement="host-a"),
        Rule(target_label="collector_hostname", replacement="host-a"),
        Rule(target_label="job", replacement="integrations/collector-check"),
    ])
    args.validate()
    exports = DiscoveryRelabel.exports(EvalContext("discovery.relabel.collector"), args)
    assert exports.output == [dict(target, instance="host-a", collector_hostname="host-a",
                                      job="integrations/collector-check")]
    assert exports.rules == args.rule


def test_dropped_targets_removed_and_no_rules_pass_through() -> None:
    targets = [{"__address__": "a:1"}, {"__address__": "b:2"}]
    ctx = EvalContext("discovery.relabel.x")
    assert DiscoveryRelabel.exports(ctx, Arguments(targets=targets)).output == targets
    args = Arguments(targets=targets, rule=[Rule(source_labels=["__address__"], regex="b:.*", action="drop")])
    assert DiscoveryRelabel.exports(ctx, args).output == [{"__address__": "a:1"}]


def test_validation_points_at_rule_attribute() -> None:
    with pytest.raises(ArgumentError) as err:
        Arguments(targets=[], rule=[Rule(action="keepequal", source_labels=["a"])]).validate()
    assert err.value.attribute == "rule.target_label"


def test_placements() -> None:
    assert lookup("discovery.relabel").placement is Placement.NOWHERE  # type: ignore[union-attr]
    assert lookup("prometheus.exporter.self").placement is Placement.NOWHERE  # type: ignore[union-attr]
    for name in ("prometheus.scrape", "prometheus.relabel", "prometheus.remote_write", "otelcol.exporter.prometheus"):
        assert lookup(name).placement is Placement.WORKER  # type: ignore[union-attr]
